/* Helpers of the tests run against tests/web/fake_dicomweb.py: its URL and
 * folder (from the environment it sets), its counters, and the memory
 * this process holds. */
#pragma once

#include <glib.h>

/* TRUE when run by fake_dicomweb.py; otherwise main registers fake_skip
 * alone, a test that skips. */
gboolean fake_available(void);
void fake_skip(void);

/* The fake server's URL for path ("/ok"), newly allocated. */
char *fake_url(const char *path);

/* A file of the fake server's folder (credentials), newly allocated. */
char *fake_file(const char *name);

/* Reset the server's counters and one-shots; read one counter (-1 when the
 * server has none by that name), or the query of the last QIDO page. */
void fake_reset(void);
gint64 fake_counter(const char *name);
char *fake_last_query(void);

/* This process's resident memory now and at its peak, in KB. */
gint64 fake_rss_kb(void);
gint64 fake_peak_kb(void);

/* Forget the peak (Linux 4.0+: writing 5 to clear_refs), so that a test
 * measures its own; FALSE when that is not allowed. */
gboolean fake_reset_peak(void);
