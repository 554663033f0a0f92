/* dicomfs core: the library decoders of encapsulated frames.
 *
 * JPEG baseline (8-bit) through libjpeg-turbo, JPEG-LS through CharLS,
 * JPEG 2000 and High-Throughput JPEG 2000 through OpenJPEG.  Each decoder
 * gives samples of 1 or 2 bytes (or 4 for OpenJPEG) in its own layout;
 * dfs_samples_finish() turns them into stored values like native pixel data. */
#include "pixels/codecs.h"

#include <stdio.h> /* jpeglib.h needs FILE */

#include <charls/charls.h>
#include <jpeglib.h>
#include <jerror.h>
#include <openjpeg.h>
#include <setjmp.h>
#include <string.h>

#include "base/error.h"
#include "pixels/samples.h"

static gboolean bad(GError **error, int code, const char *what, const char *detail)
{
    g_set_error(error, DFS_ERROR, code, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return FALSE;
}

/* --- JPEG (ISO 10918-1) through libjpeg-turbo ----------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} JpegError;

static void jpeg_fail(j_common_ptr cinfo)
{
    JpegError *e = (JpegError *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Print nothing.  The warnings that mean the entropy-coded data is cut
 * short or damaged are counted (the decoder goes on over them, filling in
 * gray); others, like odd but usable headers, are not. */
static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    JpegError *e = (JpegError *)cinfo->err;
    int code = cinfo->err->msg_code;
    gboolean corrupt = code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER ||
                       code == JWRN_HUFF_BAD_CODE || code == JWRN_MUST_RESYNC ||
                       code == JWRN_EXTRANEOUS_DATA;
    if (level < 0 && corrupt && cinfo->err->num_warnings++ == 0)
        cinfo->err->format_message(cinfo, e->message);
}

gboolean dfs_codec_jpeg(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                        GError **error)
{
    struct jpeg_decompress_struct cinfo;
    JpegError jerr;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_fail;
    jerr.pub.emit_message = jpeg_quiet;
    /* volatile: set after setjmp, and freed after a longjmp */
    guint8 *volatile pixels = NULL;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        g_free(pixels);
        return bad(error, DFS_ERROR_MALFORMED, "JPEG", jerr.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width != img->columns || cinfo.image_height != img->rows ||
        cinfo.num_components != (int)img->samples) {
        jpeg_destroy_decompress(&cinfo);
        return bad(error, DFS_ERROR_MALFORMED, "JPEG frame does not match the image", NULL);
    }
    gboolean sub = FALSE;
    for (int c = 1; c < cinfo.num_components; c++)
        sub |= cinfo.comp_info[c].h_samp_factor != cinfo.comp_info[0].h_samp_factor ||
               cinfo.comp_info[c].v_samp_factor != cinfo.comp_info[0].v_samp_factor;
    dfs_codec_jpeg_color(img, cinfo.saw_JFIF_marker || cinfo.saw_Adobe_marker, sub,
                         (int *)&cinfo.jpeg_color_space, (int *)&cinfo.out_color_space, JCS_RGB,
                         JCS_YCbCr);
    jpeg_start_decompress(&cinfo);
    gsize row = (gsize)cinfo.output_width * cinfo.output_components;
    pixels = g_malloc(row * cinfo.output_height);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = pixels + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
    long warnings = jerr.pub.num_warnings;
    jpeg_destroy_decompress(&cinfo);
    gboolean ok = warnings == 0; /* libjpeg goes on over corrupt data; we do not */
    if (ok)
        dfs_samples_finish(img, pixels, 1, FALSE, out);
    g_free(pixels);
    return ok || bad(error, DFS_ERROR_MALFORMED, "JPEG: corrupt data", jerr.message);
}

/* --- JPEG-LS (ISO 14495-1) through CharLS --------------------------------- */

/* What CharLS 2.4.1 mishandles, found by the walk of the marker segments
 * (ISO 14495-1 C.2) below: the reason (and its error code in *code), or
 * NULL when the stream may go to CharLS.
 *  - It lays the output out by the first scan's interleave mode, and wrote
 *    past the end of its destination when a later scan said another (a
 *    one-component scan in sample-interleaved mode after uninterleaved
 *    ones): every scan must have the first one's mode, one component when
 *    uninterleaved (ILV 0), all of the frame's otherwise.
 *  - Debian builds it with its assertions, and with a preset RESET above
 *    255 (the default is 64) corrupt data grew its run-mode statistics
 *    until an assertion aborted the whole process.  This refusal is a
 *    mitigation: no abort was seen without it in 2.7 million fuzzed
 *    streams, but only a fixed CharLS rules it out.
 * Streams too broken to walk are left to CharLS to refuse. */
static const char *jpegls_refusal(const guint8 *d, gsize len, int *code)
{
    int ilv = -1;
    guint nf = 0;
    gsize pos = 2; /* after SOI */
    while (pos + 4 <= len) {
        if (d[pos] != 0xFF || d[pos + 1] == 0xFF) { /* entropy-coded data or fill */
            pos++;
            continue;
        }
        guint marker = d[pos + 1];
        if (marker < 0x80 || (marker >= 0xD0 && marker <= 0xD7)) { /* stuffing, RSTn */
            pos += 2;
            continue;
        }
        if (marker == 0xD9) /* EOI */
            break;
        gsize seglen = (gsize)d[pos + 2] << 8 | d[pos + 3];
        const guint8 *seg = d + pos + 4;
        gsize n = seglen >= 2 ? seglen - 2 : 0;
        if (seglen < 2 || pos + 2 + seglen > len)
            break;
        if (marker == 0xF7 && n >= 6) /* SOF55: P, Y, X, Nf */
            nf = seg[5];
        if (marker == 0xF8 && n >= 11 && seg[0] == 1 && (seg[9] << 8 | seg[10]) > 255)
            return *code = DFS_ERROR_UNSUPPORTED, "preset RESET above 255"; /* LSE ID 1 */
        if (marker == 0xDA && n >= 1 && n >= 2u * seg[0] + 4u) { /* SOS: Ns, (Cs, Tm) x Ns, NEAR, ILV */
            guint ns = seg[0];
            int mode = seg[2 + 2 * ns];
            if ((ilv >= 0 && mode != ilv) || (mode == 0 ? ns != 1 : ns != nf))
                return *code = DFS_ERROR_MALFORMED, "scans disagree on their interleave mode";
            ilv = mode;
        }
        pos += 2 + seglen;
    }
    return NULL;
}

gboolean dfs_codec_jpegls(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                          GError **error)
{
    /* CharLS fails a stream without an EOI marker anyway, but first a scan
     * that runs off the end of the buffer can keep its bit reader busy for
     * seconds (about 2^32 steps in CharLS 2.4.1): give it the stream up to
     * its last EOI, and refuse one without. */
    while (len >= 2 && !(data[len - 2] == 0xFF && data[len - 1] == 0xD9))
        len--;
    if (len < 2)
        return bad(error, DFS_ERROR_MALFORMED, "JPEG-LS", "no EOI marker (stream cut short)");
    int code;
    const char *refusal = jpegls_refusal(data, len, &code);
    if (refusal != NULL)
        return bad(error, code, "JPEG-LS", refusal);
    charls_jpegls_decoder *dec = charls_jpegls_decoder_create();
    charls_frame_info fi;
    charls_interleave_mode ilv;
    size_t size;
    charls_jpegls_errc rc = charls_jpegls_decoder_set_source_buffer(dec, data, len);
    if (rc == CHARLS_JPEGLS_ERRC_SUCCESS)
        rc = charls_jpegls_decoder_read_header(dec);
    if (rc == CHARLS_JPEGLS_ERRC_SUCCESS)
        rc = charls_jpegls_decoder_get_frame_info(dec, &fi);
    if (rc == CHARLS_JPEGLS_ERRC_SUCCESS)
        rc = charls_jpegls_decoder_get_interleave_mode(dec, &ilv);
    if (rc == CHARLS_JPEGLS_ERRC_SUCCESS)
        rc = charls_jpegls_decoder_get_destination_size(dec, 0, &size);
    if (rc != CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_jpegls_decoder_destroy(dec);
        return bad(error, DFS_ERROR_MALFORMED, "JPEG-LS", charls_get_error_message(rc));
    }
    guint sb = fi.bits_per_sample > 8 ? 2 : 1;
    if (fi.width != img->columns || fi.height != img->rows ||
        fi.component_count != (int32_t)img->samples ||
        size != (size_t)fi.width * fi.height * fi.component_count * sb) {
        charls_jpegls_decoder_destroy(dec);
        return bad(error, DFS_ERROR_MALFORMED, "JPEG-LS frame does not match the image", NULL);
    }
    /* Room after the frame, as a second line of defence: CharLS is not
     * instrumented, and the overflow jpegls_refusal now stops (a later scan
     * in another interleave mode) wrote past the end of an exact-size
     * buffer; another such write of up to two rows lands here instead of in
     * the next allocation. */
    gsize slack = 2 * (gsize)fi.width * fi.component_count * sb + 64;
    g_autofree guint8 *pixels = g_malloc0(size + slack);
    rc = charls_jpegls_decoder_decode_to_buffer(dec, pixels, size, 0);
    charls_jpegls_decoder_destroy(dec);
    if (rc != CHARLS_JPEGLS_ERRC_SUCCESS)
        return bad(error, DFS_ERROR_MALFORMED, "JPEG-LS", charls_get_error_message(rc));
    /* Without interleaving CharLS gives one plane per component. */
    return dfs_samples_finish(img, pixels, sb, ilv == CHARLS_INTERLEAVE_MODE_NONE && img->samples > 1, out);
}

/* --- JPEG 2000 (ISO 15444-1, -15) through OpenJPEG ------------------------ */

typedef struct {
    const guint8 *data;
    gsize len, pos;
} MemStream;

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user)
{
    MemStream *m = user;
    if (m->pos >= m->len)
        return (OPJ_SIZE_T)-1;
    n = MIN(n, m->len - m->pos);
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user)
{
    MemStream *m = user;
    if (n < 0 && (gsize)-n > m->pos)
        n = -(OPJ_OFF_T)m->pos;
    m->pos = MIN(m->len, m->pos + n);
    return n;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T to, void *user)
{
    MemStream *m = user;
    if (to < 0 || (gsize)to > m->len)
        return OPJ_FALSE;
    m->pos = (gsize)to;
    return OPJ_TRUE;
}

/* The header's size must be the image's before anything is decoded: a
 * codestream that lies about its size must not make OpenJPEG allocate it. */
static gboolean j2k_header_fits(const opj_image_t *image, const DfsImage *img)
{
    return image != NULL && image->x1 > image->x0 && image->y1 > image->y0 &&
           image->x1 - image->x0 == img->columns && image->y1 - image->y0 == img->rows &&
           image->numcomps == img->samples;
}

static opj_image_t *j2k_read(const DfsImage *img, const guint8 *data, gsize len, GError **error)
{
    /* A JP2 file starts with its signature box; a bare codestream with SOC. */
    gboolean jp2 = len >= 12 && memcmp(data + 4, "jP  ", 4) == 0;
    opj_codec_t *codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    MemStream m = {data, len, 0};
    opj_stream_t *s = opj_stream_create(65536, OPJ_TRUE);
    opj_stream_set_user_data(s, &m, NULL);
    opj_stream_set_user_data_length(s, len);
    opj_stream_set_read_function(s, mem_read);
    opj_stream_set_skip_function(s, mem_skip);
    opj_stream_set_seek_function(s, mem_seek);
    opj_image_t *image = NULL;
    /* Code-blocks decode on every core: one frame's latency (image.png, the
     * first bytes of a volume) is what a user waits for. */
    gboolean ok = opj_setup_decoder(codec, &params) &&
                  opj_codec_set_threads(codec, (int)MIN(g_get_num_processors(), 8)) &&
                  opj_read_header(s, codec, &image) &&
                  j2k_header_fits(image, img) && opj_decode(codec, s, image) &&
                  opj_end_decompress(codec, s);
    opj_stream_destroy(s);
    opj_destroy_codec(codec);
    if (!ok) {
        opj_image_destroy(image);
        bad(error, DFS_ERROR_MALFORMED, "JPEG 2000 codestream cannot be decoded", NULL);
        return NULL;
    }
    return image;
}

gboolean dfs_codec_j2k(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                       GError **error)
{
    opj_image_t *image = j2k_read(img, data, len, error);
    if (image == NULL)
        return FALSE;
    gsize npix = (gsize)img->rows * img->columns;
    gboolean fits = image->numcomps == img->samples;
    for (guint c = 0; fits && c < image->numcomps; c++)
        fits = image->comps[c].w == img->columns && image->comps[c].h == img->rows &&
               image->comps[c].data != NULL;
    if (!fits) {
        opj_image_destroy(image);
        return bad(error, DFS_ERROR_MALFORMED, "JPEG 2000 frame does not match the image", NULL);
    }
    /* Components are planes of 32-bit integers: keep their low 32 bits. */
    g_autofree guint8 *pixels = g_malloc(npix * img->samples * 4);
    for (guint c = 0; c < image->numcomps; c++)
        for (gsize k = 0; k < npix; k++) {
            guint32 v = (guint32)image->comps[c].data[k];
            memcpy(pixels + (c * npix + k) * 4, &v, 4);
        }
    opj_image_destroy(image);
    return dfs_samples_finish(img, pixels, 4, TRUE, out);
}
