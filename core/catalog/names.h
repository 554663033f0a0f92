/* dicomfs core: folder names from attribute values.
 *
 * Rules (README "Names"): valid UTF-8; no '/', NUL or control characters
 * (each becomes '_' or a space); never starting with '.' (dicomfs's own
 * names do); trimmed; at most DFS_NAME_MAX bytes, cut at a character
 * boundary; a placeholder where the value is missing; unique among
 * siblings through a " (2)", " (3)" ... suffix given in a stable order. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFS_NAME_MAX 255

/* Placeholders for missing values. */
#define DFS_NAME_NO_NAME "(no name)"
#define DFS_NAME_NO_ID "no ID"
#define DFS_NAME_NO_DATE "(no date)"
#define DFS_NAME_NO_NUMBER "(no number)"
#define DFS_NAME_NO_MODALITY "(no modality)"

/* value made safe as one path component, at most max bytes; placeholder if
 * nothing is left.  Caller frees. */
char *dfs_name_sanitize(const char *value, gsize max, const char *placeholder);

/* "<PatientName> [<PatientID>]" */
char *dfs_name_patient(const char *name, const char *id);
/* A DA value (YYYYMMDD, PS3.5 6.2, or the old YYYY.MM.DD) as the number
 * YYYYMMDD in *ymd; FALSE when it is neither. */
gboolean dfs_name_date(const char *da, guint *ymd);

/* "<YYYY-MM-DD> <StudyDescription>" */
char *dfs_name_study(const char *date, const char *description);
/* "<SeriesNumber> <Modality> <SeriesDescription>", the number zero-padded
 * to width digits so that ls sorts numerically */
char *dfs_name_series(const char *number, guint width, const char *modality,
                      const char *description);
/* InstanceNumber zero-padded to width digits */
char *dfs_name_instance(const char *number, guint width);

/* Digits of value as a non-negative integer (for padding widths), 0 if
 * it is not one. */
guint dfs_name_number_width(const char *value);

/* Make names[0..n) unique: sorted by (name, key), every repeat of a name
 * gets " (2)", " (3)" ... in that order.  Names are replaced in place. */
void dfs_names_make_unique(char **names, const char *const *keys, guint n);
/* The same where the names with kept[k] are already shown and stay as they
 * are (themselves unique): only the others are suffixed, never taking a
 * kept one. */
void dfs_names_make_unique_kept(char **names, const char *const *keys, const gboolean *kept,
                                guint n);

G_END_DECLS
