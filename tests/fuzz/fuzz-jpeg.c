/* Fuzz target for the JPEG decoders (codec-libs.c, codec-ijg.c): an image
 * description (fuzz.h, FUZZ_IMAGE_HEADER bytes) then one JPEG stream, given
 * to libjpeg-turbo (8-bit) and to the 12-bit and 16-bit IJG builds
 * (extended and lossless), whatever its process and precision. */
#include "pixels/codecs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuzzDecoder decoders[] = {dfs_codec_jpeg, dfs_codec_ijg12, dfs_codec_ijg16};
    fuzz_codec(data, size, DFS_CODEC_JPEG, decoders, G_N_ELEMENTS(decoders));
    return 0;
}
