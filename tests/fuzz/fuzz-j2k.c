/* Fuzz target for the JPEG 2000 decoder (OpenJPEG, codec-libs.c): an image
 * description (fuzz.h, FUZZ_IMAGE_HEADER bytes) then one codestream or JP2
 * file. */
#include "pixels/codecs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuzzDecoder decoders[] = {dfs_codec_j2k};
    fuzz_codec(data, size, DFS_CODEC_J2K, decoders, G_N_ELEMENTS(decoders));
    return 0;
}
