/* Fuzz target for the RLE Lossless decoder (PS3.5 Annex G, codec.c): an
 * image description (fuzz.h, FUZZ_IMAGE_HEADER bytes) then one encoded
 * frame, header and segments. */
#include "pixels/codecs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuzzDecoder decoders[] = {dfs_codec_rle};
    fuzz_codec(data, size, DFS_CODEC_RLE, decoders, G_N_ELEMENTS(decoders));
    return 0;
}
