/* dicomfs core: name templates, folder names users choose (issue 16).
 *
 *   -o patient=T,study=T,series=T,instance=T
 *
 * T is text with fields: {Keyword}, the attribute's value as its tags/
 * file shows it; {Keyword:0N} (or :N), an integer zero-padded to N digits;
 * {Keyword:FORMAT} with %Y %m %d %H %M %S %% for DA, TM and DT values;
 * {{ and }} for braces.  A keyword must be of the template's level or one
 * above it (any at the instance level), and not a sequence or binary
 * value.  A missing or empty value shows as "(no Keyword)".  The name is
 * then made safe and unique as every name is (names.h, README "Names").
 *
 * Each field's attribute becomes a column the facts keep at the
 * attribute's level (dfs_facts_add_column), so names are made from the
 * catalog, never from the files. */
#pragma once

#include <glib.h>

#include "catalog/index.h"

G_BEGIN_DECLS

typedef struct _DfsTemplate DfsTemplate;

/* text as level's template, its columns added to the facts; NULL with an
 * error that says what is wrong (one line). */
DfsTemplate *dfs_template_new(DfsLevel level, const char *text, GError **error);
void dfs_template_free(DfsTemplate *t);

/* The templates in use (process-wide, set once before any scan; t taken),
 * NULL for a level named as by default. */
void dfs_templates_set(DfsLevel level, DfsTemplate *t);
const DfsTemplate *dfs_templates_get(DfsLevel level);
/* The templates in use as text ("" for none): names made by others are
 * others' (a persistent index of other templates is another one).  Caller
 * frees. */
char *dfs_templates_signature(void);

/* The value of column k of the ancestor (or the node itself) at level. */
typedef const char *(*DfsTemplateValue)(DfsLevel level, guint k, gpointer user);

/* The name t gives (made safe as one path component; not yet unique).
 * Caller frees. */
char *dfs_template_expand(const DfsTemplate *t, DfsTemplateValue value, gpointer user);

G_END_DECLS
