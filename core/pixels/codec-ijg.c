/* dicomfs core: JPEG 12-bit (extended, process 4) and lossless (process 14,
 * every predictor, 2 to 16 bits) through the IJG libraries with the
 * lossless extension that Debian ships in libgdcm (libgdcmjpeg12 and
 * libgdcmjpeg16; libjpeg-turbo 2.1 in Debian 12 decodes neither).
 *
 * Compiled twice, with DFS_IJG_BITS 12 and 16, each against that build's
 * jpeglib.h (whose symbols are renamed, so both link into one program). */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

#include "pixels/codecs.h"
#include "pixels/samples.h"
#include "base/error.h"

#define IJG_NAME2(bits) dfs_codec_ijg##bits
#define IJG_NAME(bits) IJG_NAME2(bits)

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} IjgError;

static void ijg_fail(j_common_ptr cinfo)
{
    IjgError *e = (IjgError *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Print nothing.  The warnings that mean the entropy-coded data is cut
 * short or damaged are counted (the decoder goes on over them, filling in
 * gray); others, like odd but usable headers, are not. */
static void ijg_quiet(j_common_ptr cinfo, int level)
{
    IjgError *e = (IjgError *)cinfo->err;
    int code = cinfo->err->msg_code;
    gboolean corrupt = code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER ||
                       code == JWRN_HUFF_BAD_CODE || code == JWRN_MUST_RESYNC ||
                       code == JWRN_EXTRANEOUS_DATA;
    if (level < 0 && corrupt && cinfo->err->num_warnings++ == 0)
        cinfo->err->format_message(cinfo, e->message);
}

/* IJG 6b has no memory source: feed the whole frame at once. */
static void src_init(j_decompress_ptr c)
{
    (void)c;
}

static boolean src_fill(j_decompress_ptr c)
{
    /* Past the end: an EOI marker, as the IJG examples do for a short file. */
    static const JOCTET eoi[2] = {0xFF, JPEG_EOI};
    c->src->next_input_byte = eoi;
    c->src->bytes_in_buffer = 2;
    return TRUE;
}

static void src_skip(j_decompress_ptr c, long n)
{
    if (n <= 0)
        return;
    if ((size_t)n > c->src->bytes_in_buffer) {
        src_fill(c);
        return;
    }
    c->src->next_input_byte += n;
    c->src->bytes_in_buffer -= (size_t)n;
}

static void src_term(j_decompress_ptr c)
{
    (void)c;
}

gboolean IJG_NAME(DFS_IJG_BITS)(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                                GError **error)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_source_mgr src = {data, len, src_init, src_fill, src_skip, jpeg_resync_to_restart,
                                  src_term};
    IjgError jerr;
    JSAMPLE *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = ijg_fail;
    jerr.pub.emit_message = ijg_quiet;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        g_free(pixels);
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "JPEG: %s", jerr.message);
        return FALSE;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.src = &src;
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width != img->columns || cinfo.image_height != img->rows ||
        cinfo.num_components != (int)img->samples) {
        jpeg_destroy_decompress(&cinfo);
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_MALFORMED,
                            "JPEG frame does not match the image");
        return FALSE;
    }
    /* Lossy YCbCr comes out as RGB; lossless keeps its samples exactly. */
    if (cinfo.process == JPROC_LOSSLESS)
        cinfo.out_color_space = cinfo.jpeg_color_space;
    else {
        gboolean sub = FALSE;
        for (int c = 1; c < cinfo.num_components; c++)
            sub |= cinfo.comp_info[c].h_samp_factor != cinfo.comp_info[0].h_samp_factor ||
                   cinfo.comp_info[c].v_samp_factor != cinfo.comp_info[0].v_samp_factor;
        dfs_codec_jpeg_color(img, cinfo.saw_JFIF_marker || cinfo.saw_Adobe_marker, sub,
                             (int *)&cinfo.jpeg_color_space, (int *)&cinfo.out_color_space,
                             JCS_RGB, JCS_YCbCr);
    }
    jpeg_start_decompress(&cinfo);
    gsize row = (gsize)cinfo.output_width * cinfo.output_components;
    pixels = g_new(JSAMPLE, row * cinfo.output_height);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = pixels + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
    long warnings = jerr.pub.num_warnings;
    jpeg_destroy_decompress(&cinfo);
    if (warnings > 0) { /* the IJG code goes on over corrupt data; we do not */
        g_free(pixels);
        g_set_error(error, DFS_ERROR, DFS_ERROR_MALFORMED, "JPEG: corrupt data: %s", jerr.message);
        return FALSE;
    }
    /* JSAMPLE is 16 bits wide in both builds: samples of 2 bytes. */
    G_STATIC_ASSERT(sizeof(JSAMPLE) == 2);
    gboolean ok = dfs_samples_finish(img, (const guint8 *)pixels, 2, FALSE, out);
    g_free(pixels);
    return ok;
}
