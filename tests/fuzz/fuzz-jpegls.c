/* Fuzz target for the JPEG-LS decoder (CharLS, codec-libs.c): an image
 * description (fuzz.h, FUZZ_IMAGE_HEADER bytes) then one JPEG-LS stream. */
#include "pixels/codecs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuzzDecoder decoders[] = {dfs_codec_jpegls};
    fuzz_codec(data, size, DFS_CODEC_JPEG_LS, decoders, G_N_ELEMENTS(decoders));
    return 0;
}
