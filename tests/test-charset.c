/* Unit tests of Specific Character Set decoding (core/charset.c).
 *
 * The expected strings are those the standard gives: the byte examples of
 * PS3.5 Annexes H (Japanese), I (Korean), J (UTF-8, GB18030) and K (GB2312)
 * with the characters the annexes say they encode, and single characters of
 * the ISO 8859 parts and TIS 620 as those standards define them.  They are
 * written here by hand, so they do not come from our own decoder or iconv.
 * The sample files of pydicom are checked by tests/oracle/charset_oracle.py. */
#include <string.h>

#include "dicom/charset.h"

#define FFFD "\xEF\xBF\xBD"

/* --- helpers --------------------------------------------------------------- */

static DfsCharset *parse(const char *value)
{
    return dfs_charset_parse((const guint8 *)value, value != NULL ? strlen(value) : 0);
}

/* Decode `len` bytes (len < 0: up to the NUL) under `charset` (NULL: no
 * (0008,0005)); the result is checked to be valid UTF-8. */
static char *decode_n(const char *charset, DfsTextKind kind, const char *bytes, gssize len)
{
    g_autoptr(DfsCharset) cs = charset != NULL ? parse(charset) : NULL;
    GString *out = g_string_new(NULL);
    gsize n = len < 0 ? strlen(bytes) : (gsize)len;
    dfs_charset_decode(cs, kind, (const guint8 *)bytes, n, out);
    g_assert_true(g_utf8_validate_len(out->str, out->len, NULL));
    return g_string_free(out, FALSE);
}

#define check(charset, kind, bytes, expected)                                                      \
    do {                                                                                           \
        g_autofree char *got_ = decode_n(charset, kind, bytes, -1);                                \
        g_assert_cmpstr(got_, ==, expected);                                                       \
    } while (0)

#define check_n(charset, kind, bytes, len, expected)                                               \
    do {                                                                                           \
        g_autofree char *got_ = decode_n(charset, kind, bytes, len);                               \
        g_assert_cmpstr(got_, ==, expected);                                                       \
    } while (0)

#define PN DFS_TEXT_PN
#define TEXT DFS_TEXT_PLAIN

/* --- default repertoire and single-byte sets (PS3.3 Table C.12-2) ------------ */

static void test_ascii(void)
{
    check(NULL, PN, "Doe^John", "Doe^John");
    check("", PN, "Doe^John", "Doe^John");
    check("ISO_IR 6", TEXT, "a\\b\r\n\tc", "a\\b\r\n\tc");
    check("ISO_IR 192", PN, "Doe^John=", "Doe^John=");
    check("GB18030", TEXT, "plain", "plain");
    check("\\ISO 2022 IR 87", PN, "Yamada^Tarou", "Yamada^Tarou");
    check_n(NULL, TEXT, "", 0, "");
    /* NUL padding is dropped (core/value.c relies on it) */
    check_n("ISO_IR 100", TEXT, "AB\0\0", 4, "AB");
    check_n("ISO_IR 192", TEXT, "\xc3\xa9\0", 3, "\xc3\xa9");
}

static void test_latin1(void)
{
    /* pydicom's chrFren.dcm; "Jérôme" in ISO 8859-1 */
    check("ISO_IR 100", PN, "Buc^J\xe9r\xf4me", "Buc^Jérôme");
    check("ISO 2022 IR 100", PN,
          "\xc4neas^R\xfc"
          "diger",
          "Äneas^Rüdiger");
    /* the default repertoire has no G1: bytes above 07/15 are read as
     * ISO 8859-1, as pydicom and DCMTK do */
    check(NULL, PN, "Buc^J\xe9r\xf4me", "Buc^Jérôme");
    check("ISO_IR 6", PN, "\xe9", "é");
    check("ISO_IR 100", TEXT, "\xa0\xff", "\u00a0ÿ");
}

static void test_single_byte(void)
{
    check("ISO_IR 101", TEXT, "\xa1\xb1", "Ąą");      /* ISO 8859-2 */
    check("ISO_IR 109", TEXT, "\xa1\xb1", "Ħħ");      /* ISO 8859-3 */
    check("ISO_IR 110", TEXT, "\xa1\xa2", "Ąĸ");      /* ISO 8859-4 */
    check("ISO_IR 144", TEXT, "\xb0\xd0\xef", "Аая"); /* ISO 8859-5 */
    check("ISO_IR 148", TEXT, "\xd0\xdd\xfe", "Ğİş"); /* ISO 8859-9 */
    check("ISO_IR 203", TEXT, "\xa4\xbd", "€œ");      /* ISO 8859-15 */
    check("ISO_IR 166", TEXT, "\xa1\xdf", "ก฿");      /* TIS 620 */
    check("ISO_IR 166", TEXT, "\xff", FFFD);          /* not in TIS 620 */
    check("ISO_IR 127", TEXT, "\xff", FFFD);          /* not in ISO 8859-6 */
    /* the names of pydicom's chrArab, chrGreek, chrHbrw and chrRuss files */
    check("ISO_IR 127", PN, "\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1", "قباني^لنزار");
    check("ISO_IR 126", PN, "\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2", "Διονυσιος");
    check("ISO_IR 138", PN, "\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", "שרון^דבורה");
    check("ISO_IR 144", PN,
          "\xbb\xee\xda"
          "ce\xdc\xd1yp\xd3",
          "Люкceмбypг");
    /* ISO_IR 13: JIS X 0201, katakana in GR (PS3.5 H.3.2 first group) */
    check("ISO_IR 13", PN, "\xd4\xcf\xc0\xde^\xc0\xdb\xb3", "ﾔﾏﾀﾞ^ﾀﾛｳ");
    check("ISO_IR 13", TEXT, "\xa1\xdf", "｡ﾟ");
}

/* ISO 2022 forms of the single-byte sets (Table C.12-3): ESC - F designates
 * the right half of the set to G1. */
static void test_iso2022_single_byte(void)
{
    check("ISO 2022 IR 100\\ISO 2022 IR 126", TEXT, "\xe9\x1b-F\xe1\x1b-A\xe9", "éαé");
    check("\\ISO 2022 IR 144", TEXT, "\x1b-L\xb0", "А");
    check("\\ISO 2022 IR 127", TEXT, "\x1b-G\xc7", "ا");
    check("\\ISO 2022 IR 138", TEXT, "\x1b-H\xe0", "א");
    check("\\ISO 2022 IR 101", TEXT, "\x1b-B\xa1", "Ą");
    check("\\ISO 2022 IR 109", TEXT, "\x1b-C\xa1", "Ħ");
    check("\\ISO 2022 IR 110", TEXT, "\x1b-D\xa2", "ĸ");
    check("\\ISO 2022 IR 148", TEXT, "\x1b-M\xdd", "İ");
    check("\\ISO 2022 IR 203", TEXT, "\x1b-b\xa4", "€");
    check("\\ISO 2022 IR 166", TEXT, "\x1b-T\xa1", "ก");
    check("\\ISO 2022 IR 13", TEXT, "\x1b)I\xb1", "ｱ");
}

/* --- Japanese (PS3.5 Annex H) ------------------------------------------------ */

/* Example H.3-1: value 1 absent; ESC $ B / ESC ( B around each JIS X 0208
 * run.  "$^" is HIRAGANA LETTER MA: 05/14 inside a run is no delimiter. */
static const char h31[] = "Yamada^Tarou="
                          "\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B="
                          "\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";

/* Example H.3-2: value 1 ISO 2022 IR 13; katakana in GR, ESC ( J back to
 * JIS X 0201 romaji in G0. */
static const char h32[] = "\xd4\xcf\xc0\xde^\xc0\xdb\xb3="
                          "\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J="
                          "\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J";

static void test_iso2022_jis(void)
{
    check("\\ISO 2022 IR 87", PN, h31, "Yamada^Tarou=山田^太郎=やまだ^たろう");
    check("ISO 2022 IR 6\\ISO 2022 IR 87", PN, h31, "Yamada^Tarou=山田^太郎=やまだ^たろう");
    check("ISO 2022 IR 13\\ISO 2022 IR 87", PN, h32, "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう");
    /* the same bytes as plain text: '^' and '=' are then no delimiters, but
     * every ESC ( B is there, so nothing changes */
    check("\\ISO 2022 IR 87", TEXT, h31, "Yamada^Tarou=山田^太郎=やまだ^たろう");
    /* ESC $ @ (JIS C 6226-1978) read as JIS X 0208 */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$@;3ED\x1b(B", "山田");
    /* JIS X 0212 (ISO-IR 159), ESC $ ( D: 03/00 02/01 is U+4E02 */
    check("\\ISO 2022 IR 87\\ISO 2022 IR 159", TEXT, "\x1b$(D0!\x1b(B", "丂");
    check("\\ISO 2022 IR 87\\ISO 2022 IR 159", TEXT, "\x1b$(D0!\x1b$B;3\x1b(Bx", "丂山x");
    /* a multi-valued LO: each value starts in the initial state */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B;3\x1b(B\\\x1b$BED\x1b(B", "山\\田");
}

/* --- Korean (PS3.5 Annex I) -------------------------------------------------- */

static void test_korean(void)
{
    /* Example I.2-1 */
    check("\\ISO 2022 IR 149", PN,
          "Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7="
          "\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf",
          "Hong^Gildong=洪^吉洞=홍^길동");
    /* Example I.3-1: KS X 1001 in G1 mixes with ASCII in G0 without escapes;
     * each line starts again in the initial state (one ESC per line). */
    check("\\ISO 2022 IR 149", TEXT,
          "\x1b$)CThe first line includes \xc7\xd1\xb1\xdb.\r\n"
          "\x1b$)CThe second line includes \xc7\xd1\xb1\xdb, too.\r\n"
          "The third line",
          "The first line includes 한글.\r\nThe second line includes 한글, too.\r\nThe third line");
    /* pydicom's chrKoreanMulti.dcm */
    check("\\ISO 2022 IR 149", PN, "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B", "김희중");
    /* ISO 2022 IR 149 as value 1: KS X 1001 is in G1 from the start */
    check("ISO 2022 IR 149", PN, "\xc8\xab^\xb1\xe6\xb5\xbf", "홍^길동");
}

/* --- Chinese (PS3.5 Annexes J and K) ------------------------------------------ */

static void test_chinese_gb2312(void)
{
    /* Example K.2-1 */
    check("\\ISO 2022 IR 58", PN,
          "Zhang^XiaoDong=\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab= ", "Zhang^XiaoDong=张^小东= ");
    /* Example K.3-1 */
    check("\\ISO 2022 IR 58", TEXT,
          "1.\x1b$)A\xb5\xda\xd2\xbb\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n"
          "2.\x1b$)A\xb5\xda\xb6\xfe\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n"
          "3.\x1b$)A\xb5\xda\xc8\xfd\xd0\xd0\xce\xc4\xd7\xd6\xa1\xa3\r\n",
          "1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n");
}

/* Example J.3-1 and J.4-1 (GB18030; Annex J says they hold for GBK too). */
static const char j3[] = "Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=";
static const char j4[] = "The first line includes\xd6\xd0\xce\xc4.\r\n"
                         "The second line includes\xd6\xd0\xce\xc4, too.\r\n"
                         "The third line.\r\n";
static const char j4_text[] = "The first line includes中文.\r\n"
                              "The second line includes中文, too.\r\n"
                              "The third line.\r\n";

static void test_chinese_gb18030(void)
{
    check("GB18030", PN, j3, "Wang^XiaoDong=王^小东=");
    check("GB18030", TEXT, j4, j4_text);
    /* four-byte sequences: U+0080 and U+10000 (GB 18030-2005 Table 2) */
    check("GB18030", TEXT, "\x81\x30\x81\x30|\x90\x30\x81\x30", "\xc2\x80|\U00010000");
    /* a trail byte may be 05/12 or 05/14: no delimiter in a stand-alone set */
    check("GB18030", PN, "\x81\x5c", "乗"); /* GBK 815C is U+4E57 */
    /* code extensions do not apply: values 2..n are ignored (C.12.1.1.2) */
    check("GB18030\\ISO 2022 IR 100", PN, j3, "Wang^XiaoDong=王^小东=");
}

static void test_chinese_gbk(void)
{
    check("GBK", PN, j3, "Wang^XiaoDong=王^小东=");
    check("GBK", TEXT, j4, j4_text);
}

static void test_utf8(void)
{
    /* Example J.1-1 (traditional script) and J.2-1 */
    check("ISO_IR 192", PN,
          "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=", "Wang^XiaoDong=王^小東=");
    check("ISO_IR 192", TEXT,
          "The first line includes\xe4\xb8\xad\xe6\x96\x87.\r\n"
          "The second line includes\xe4\xb8\xad\xe6\x96\x87, too.\r\n"
          "The third line.\r\n",
          j4_text);
    check("ISO_IR 192", TEXT, "\xf0\x9f\x98\x80", "\U0001F600");
}

/* --- delimiters (PS3.5 6.1.2.5.3) ----------------------------------------------- */

static void test_pn_delimiters(void)
{
    /* value 1 empty: after a delimiter G1 is back to "none" (read as
     * ISO 8859-1); '^' and '=' are delimiters in PN only */
    check("\\ISO 2022 IR 126", PN, "\x1b-F\xc4^\xc4=\xc4", "Δ^Ä=Ä");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4^\xc4=\xc4", "Δ^Δ=Δ");
    /* '\' (between values), CR, LF, FF and TAB in every VR */
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4\\\xc4", "Δ\\Ä");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4\r\xc4", "Δ\rÄ");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4\n\xc4", "Δ\nÄ");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4\f\xc4", "Δ\fÄ");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4\t\xc4", "Δ\tÄ");
    check("\\ISO 2022 IR 126", TEXT, "\x1b-F\xc4 \xc4", "Δ Δ"); /* SPACE is none */
    /* value 1 given: its set comes back */
    check("ISO 2022 IR 100\\ISO 2022 IR 126", PN, "\x1b-F\xc4^\xc4", "Δ^Ä");
    check("ISO 2022 IR 13\\ISO 2022 IR 87", PN, "\x1b$B;3\x1b(B^\xb1", "山^ｱ");
    /* G0 also comes back: a JIS run cut by a delimiter the writer did not
     * precede with ESC ( B ends there */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B;3\rA", "山\rA");
    check("\\ISO 2022 IR 87", PN, "\x1b$B;3^", "山^");
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B;3\\", "山\\");
    /* Korean: one ESC $ ) C per component (Example I.2-1 note 2) */
    check("\\ISO 2022 IR 149", PN, "\x1b$)C\xc8\xab^\xc8\xab", "홍^È«");
}

/* --- invalid input: always valid UTF-8, U+FFFD for what cannot be read ---------- */

static void test_invalid_escapes(void)
{
    check("\\ISO 2022 IR 87", TEXT, "\x1b", FFFD);
    check("\\ISO 2022 IR 87", TEXT, "a\x1b", "a" FFFD);
    check("\\ISO 2022 IR 87", TEXT, "\x1b$", FFFD "$");
    check("\\ISO 2022 IR 87", TEXT, "\x1b$(", FFFD "$(");
    check("\\ISO 2022 IR 87", TEXT, "\x1b(", FFFD "(");
    check("\\ISO 2022 IR 87", TEXT, "\x1b\x1b$B;3", FFFD "山");
    check("\\ISO 2022 IR 87", TEXT, "\x1bXY", FFFD "XY");
    check("\\ISO 2022 IR 87", TEXT, "\x1b$)Zok", FFFD "ok"); /* unknown set */
    check("\\ISO 2022 IR 87", TEXT, "\x1b)Bok", FFFD "ok");  /* ASCII to G1 */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$$$$Bok", FFFD "$$$$Bok");
    check(NULL, TEXT, "\x1b$B;3\x1b(B", "山"); /* known sets are read even undeclared */
    check("ISO_IR 100", TEXT, "\x1b-F\xc4", "Δ");
}

static void test_invalid_multibyte(void)
{
    /* odd bytes in a JIS X 0208 run, and bytes of no 94-set */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B;", FFFD);
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B;3E\x1b(Bx", "山" FFFD "x");
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B\x7f\x7f", "\x7f\x7f");
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B~~", FFFD); /* unassigned */
    /* G1: ISO 8859-1 when value 1 is empty, nothing when it is IR 87 */
    check("\\ISO 2022 IR 87", TEXT, "\x1b$B\xb1", "±");
    check("ISO 2022 IR 87", TEXT, "\x1b$B\xb1\x80", FFFD FFFD);
    /* KS X 1001 and GB 2312 in G1: lone and unassigned bytes */
    check("\\ISO 2022 IR 149", TEXT, "\x1b$)C\xb1", FFFD);
    check("\\ISO 2022 IR 149", TEXT,
          "\x1b$)C\xb1"
          "a",
          FFFD "a");
    check("\\ISO 2022 IR 149", TEXT, "\x1b$)C\x80\xff\xa0", FFFD FFFD FFFD);
    check("\\ISO 2022 IR 58", TEXT, "\x1b$)A\xd5", FFFD);
    check("\\ISO 2022 IR 58", TEXT, "\x1b$)A\xaa\xa1\xd5\xc5", FFFD "张");
    /* JIS X 0201 katakana set: bytes past 13/15 */
    check("ISO_IR 13", TEXT, "\xe0", FFFD);
    check("ISO_IR 13", TEXT, "\xfd\xfe\xff", FFFD FFFD FFFD);
    /* GB18030 and GBK: cut and impossible sequences */
    check("GB18030", TEXT, "\x81", FFFD);
    check("GB18030", TEXT, "a\x81\x30", "a" FFFD "0");
    check("GB18030", TEXT,
          "\xff"
          "a",
          FFFD "a");
    check("GBK", TEXT, "\xcd", FFFD);
}

static void test_invalid_utf8(void)
{
    check("ISO_IR 192", TEXT, "\xc3", FFFD);
    check("ISO_IR 192", TEXT, "\xe4\xb8", FFFD); /* one maximal subpart */
    check("ISO_IR 192", TEXT, "\xe4\xb8x", FFFD "x");
    check("ISO_IR 192", TEXT, "\xff\xfe", FFFD FFFD);
    check("ISO_IR 192", TEXT, "\xc0\xaf", FFFD FFFD);          /* overlong */
    check("ISO_IR 192", TEXT, "\xed\xa0\x80", FFFD FFFD FFFD); /* surrogate */
    check("ISO_IR 192", TEXT, "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
    check("ISO_IR 192", TEXT, "\xf0\x9f\x98", FFFD);
    check("ISO_IR 192", TEXT,
          "a\x80"
          "b",
          "a" FFFD "b");
}

/* Random bytes under every defined term: never anything but valid UTF-8. */
static void test_random_bytes(void)
{
    static const char *const sets[] = {
        NULL,
        "ISO_IR 100",
        "ISO_IR 166",
        "ISO_IR 13",
        "\\ISO 2022 IR 87",
        "ISO 2022 IR 13\\ISO 2022 IR 87\\ISO 2022 IR 159",
        "\\ISO 2022 IR 149",
        "\\ISO 2022 IR 58",
        "ISO_IR 192",
        "GB18030",
        "GBK",
        "nonsense",
    };
    static const guint8 alphabet[] = {0x1b, '$',  '(',  ')',  '-',  'B',  'J',  'I', 'A',
                                      'C',  'D',  'F',  '^',  '=',  '\\', '\r', 0,   0x21,
                                      0x7e, 0x80, 0xa1, 0xd5, 0xfe, 0xff, 0x30, 0x81};
    GRand *r = g_rand_new_with_seed(20240601);
    for (int round = 0; round < 4000; round++) {
        guint8 buf[24];
        gsize n = (gsize)g_rand_int_range(r, 0, sizeof buf + 1);
        for (gsize k = 0; k < n; k++)
            buf[k] = g_rand_boolean(r) ? (guint8)g_rand_int_range(r, 0, 256)
                                       : alphabet[g_rand_int_range(r, 0, sizeof alphabet)];
        g_autoptr(DfsCharset) cs = parse(sets[round % G_N_ELEMENTS(sets)]);
        GString *out = g_string_new("");
        dfs_charset_decode(cs, round % 2 ? PN : TEXT, buf, n, out);
        g_assert_true(g_utf8_validate_len(out->str, out->len, NULL));
        g_string_free(out, TRUE);
    }
    g_rand_free(r);
}

/* --- parsing (0008,0005) ------------------------------------------------------ */

static void test_parse(void)
{
    g_autoptr(DfsCharset) a = parse("ISO 2022 IR 13 \\ISO 2022 IR 87 ");
    g_assert_cmpstr(dfs_charset_terms(a), ==, "ISO 2022 IR 13\\ISO 2022 IR 87");
    g_assert_false(dfs_charset_has_unknown(a));
    g_autoptr(DfsCharset) b = parse("\\ISO 2022 IR 149");
    g_assert_cmpstr(dfs_charset_terms(b), ==, "\\ISO 2022 IR 149");
    g_assert_false(dfs_charset_has_unknown(b));
    g_autoptr(DfsCharset) c = dfs_charset_parse(NULL, 0);
    g_assert_cmpstr(dfs_charset_terms(c), ==, "");
    g_assert_false(dfs_charset_has_unknown(c));
    g_autoptr(DfsCharset) d = dfs_charset_parse((const guint8 *)"ISO_IR 192\0", 11);
    g_assert_cmpstr(dfs_charset_terms(d), ==, "ISO_IR 192");
    g_assert_false(dfs_charset_has_unknown(d));
    g_assert_false(dfs_charset_has_unknown(NULL));
    g_assert_cmpstr(dfs_charset_terms(NULL), ==, "");
    g_autoptr(DfsCharset) e = dfs_charset_parse((const guint8 *)"\xff\\ISO_IR 100", 12);
    g_assert_true(g_utf8_validate(dfs_charset_terms(e), -1, NULL));
    g_assert_true(dfs_charset_has_unknown(e));
    for (const char *t = "ISO_IR 100\0ISO 2022 IR 6\0ISO_IR 203\0GBK\0GB18030\0ISO 2022 IR 58\0";
         *t; t += strlen(t) + 1) {
        g_autoptr(DfsCharset) k = parse(t);
        g_assert_false(dfs_charset_has_unknown(k));
    }
}

static void test_unknown(void)
{
    g_autoptr(DfsCharset) cs = parse("KLINGON");
    g_assert_true(dfs_charset_has_unknown(cs));
    g_assert_cmpstr(dfs_charset_terms(cs), ==, "KLINGON");
    /* an unknown term reads as the default repertoire */
    check("KLINGON", PN, "Buc^J\xe9r\xf4me", "Buc^Jérôme");
    /* an unknown value 2 does not change value 1 */
    check("ISO_IR 126\\KLINGON", TEXT, "\xc4", "Δ");
    g_autoptr(DfsCharset) cs2 = parse("ISO_IR 126\\KLINGON");
    g_assert_true(dfs_charset_has_unknown(cs2));
    /* misspellings found in the wild are reported but read as meant */
    static const char *const misspelt[][2] = {
        {"ISO IR 126", "Δ"}, {"ISO-IR 126", "Δ"},      {"iso_ir 126", "Δ"},
        {"ISO_IR126", "Δ"},  {"ISO_2022_IR_126", "Δ"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(misspelt); i++) {
        g_autoptr(DfsCharset) m = parse(misspelt[i][0]);
        g_assert_true(dfs_charset_has_unknown(m));
        check(misspelt[i][0], TEXT, "\xc4", misspelt[i][1]);
    }
    check("UTF-8", TEXT, "\xce\x94", "Δ");
    check("ISO 2022 58", TEXT, "\x1b$)A\xd5\xc5", "张");
}

/* --- threads: each has its own iconv descriptors ------------------------------- */

static gpointer decode_many(G_GNUC_UNUSED gpointer data)
{
    for (int i = 0; i < 300; i++) {
        g_autofree char *j = decode_n("\\ISO 2022 IR 87", PN, h31, -1);
        g_autofree char *k = decode_n("GB18030", PN, j3, -1);
        g_autofree char *l = decode_n("ISO_IR 148", TEXT, "\xd0", -1);
        if (strcmp(j, "Yamada^Tarou=山田^太郎=やまだ^たろう") != 0 ||
            strcmp(k, "Wang^XiaoDong=王^小东=") != 0 || strcmp(l, "Ğ") != 0)
            return GINT_TO_POINTER(1);
    }
    return NULL;
}

static void test_threads(void)
{
    GThread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = g_thread_new("decode", decode_many, NULL);
    for (int i = 0; i < 4; i++)
        g_assert_null(g_thread_join(t[i]));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/charset/ascii", test_ascii);
    g_test_add_func("/charset/latin1", test_latin1);
    g_test_add_func("/charset/single-byte", test_single_byte);
    g_test_add_func("/charset/iso2022/single-byte", test_iso2022_single_byte);
    g_test_add_func("/charset/iso2022/jis", test_iso2022_jis);
    g_test_add_func("/charset/korean", test_korean);
    g_test_add_func("/charset/chinese/gb2312", test_chinese_gb2312);
    g_test_add_func("/charset/chinese/gb18030", test_chinese_gb18030);
    g_test_add_func("/charset/chinese/gbk", test_chinese_gbk);
    g_test_add_func("/charset/utf8", test_utf8);
    g_test_add_func("/charset/pn-delimiters", test_pn_delimiters);
    g_test_add_func("/charset/invalid-bytes/escapes", test_invalid_escapes);
    g_test_add_func("/charset/invalid-bytes/multibyte", test_invalid_multibyte);
    g_test_add_func("/charset/invalid-bytes/utf8", test_invalid_utf8);
    g_test_add_func("/charset/invalid-bytes/random", test_random_bytes);
    g_test_add_func("/charset/parse", test_parse);
    g_test_add_func("/charset/unknown", test_unknown);
    g_test_add_func("/charset/threads", test_threads);
    return g_test_run();
}
