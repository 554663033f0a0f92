/* dicomfs core: the views of the catalog, the other ways into the tree
 * (issue 16): every study and series by its UIDs, studies by date and by
 * accession number, series by modality.
 *
 * A view is folders of names, each name leading to a folder of the view or
 * to a node of the tree (a link, for the tree's module kinds/views.c).  Here
 * is what each folder holds in one snapshot: a list of (name, number)
 * sorted by name, made on first use and kept with the snapshot (freed with
 * it, so a changing tree makes its lists again as they are asked for).
 *
 * Costs: a list of the whole archive's studies or series (the first level
 * of a view) is made by one pass over the patient, study and series nodes,
 * never the instances; by-uid's instance lists by one pass over a series'
 * children.  Names are unique in each list with the tree's " (2)" rule
 * (names.h); missing values have the placeholders below. */
#pragma once

#include <glib.h>

#include "catalog/index.h"

G_BEGIN_DECLS

#define DFS_VIEW_NO_UID "(no UID)"
#define DFS_VIEW_NO_DATE "(no date)"
#define DFS_VIEW_NO_MODALITY "(no modality)"
#define DFS_VIEW_NO_ACCESSION "(no accession)"

/* Link names are cut to this many bytes (at a character boundary), room
 * kept for a " (N)" suffix. */
#define DFS_VIEW_LINK_MAX 245

/* The folders of the views, and what the number of one (the entry's) and
 * of its items are. */
typedef enum {
    DFS_VIEW_UID_STUDIES,     /* by-uid/: 0; items: study nodes by StudyInstanceUID */
    DFS_VIEW_UID_SERIES,      /* by-uid/<study>/: the study; items: series by SeriesInstanceUID */
    DFS_VIEW_UID_INSTANCES,   /* by-uid/<study>/<series>/: the series; items: instances by
                                 SOPInstanceUID */
    DFS_VIEW_YEARS,           /* by-date/: 0; items: YYYY, and 0 for "(no date)" */
    DFS_VIEW_MONTHS,          /* by-date/<YYYY>/: YYYY; items: YYYYMM */
    DFS_VIEW_DAYS,            /* by-date/<YYYY>/<YYYY-MM>/: YYYYMM; items: YYYYMMDD */
    DFS_VIEW_DAY_STUDIES,     /* a day's folder: YYYYMMDD (0: no date); items: study nodes */
    DFS_VIEW_MODALITIES,      /* by-modality/: 0; items: the first series node of each */
    DFS_VIEW_MODALITY_SERIES, /* by-modality/<M>/: a series of M; items: series nodes */
    DFS_VIEW_ACCESSIONS,      /* by-accession/: 0; items: the first study node of each */
    DFS_VIEW_ACCESSION_STUDIES, /* by-accession/<A>/: a study with A; items: study nodes */
    DFS_VIEW_N
} DfsViewFolder;

typedef struct {
    const char *name;
    guint32 number;
} DfsViewItem;

typedef struct {
    guint n;
    const DfsViewItem *items; /* sorted by name (strcmp) */
} DfsViewList;

/* Folder f's list in snapshot idx (number: the folder's), valid while idx
 * is.  Thread-safe. */
const DfsViewList *dfs_view_list(DfsIndex *idx, DfsViewFolder f, guint number);

/* The item called name in list, or -1. */
gint dfs_view_list_find(const DfsViewList *list, const char *name);

/* A study's date as YYYYMMDD, 0 when it has none that reads as a date. */
guint dfs_view_study_day(const DfsIndex *idx, guint study);

G_END_DECLS
