/* dicomfs core: level attributes.  See levels.h. */
#include "catalog/levels.h"

#include <stdlib.h>

#include "dicom/tags.h"

/* Sorted tag lists (checked by the unit tests), searched with bsearch. */
static const guint32 patient_tags[] = {
    DFS_TAG_PATIENT_NAME,                  /* 0010,0010 */
    DFS_TAG_PATIENT_ID,                    /* 0010,0020 */
    DFS_TAG_ISSUER_OF_PATIENT_ID,          /* 0010,0021 */
    DFS_TAG_TYPE_OF_PATIENT_ID,            /* 0010,0022 */
    DFS_TAG_ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE, /* 0010,0024 */
    DFS_TAG_PATIENT_BIRTH_DATE,            /* 0010,0030 */
    DFS_TAG_PATIENT_BIRTH_TIME,            /* 0010,0032 */
    DFS_TAG_PATIENT_SEX,                   /* 0010,0040 */
    DFS_TAG_OTHER_PATIENT_IDS,             /* 0010,1000 */
    DFS_TAG_OTHER_PATIENT_NAMES,           /* 0010,1001 */
    DFS_TAG_OTHER_PATIENT_IDS_SEQUENCE,    /* 0010,1002 */
    DFS_TAG_PATIENT_BIRTH_NAME,            /* 0010,1005 */
    DFS_TAG_PATIENT_MOTHER_BIRTH_NAME,     /* 0010,1060 */
    DFS_TAG_ETHNIC_GROUP,                  /* 0010,2160 */
    DFS_TAG_PATIENT_SPECIES_DESCRIPTION,   /* 0010,2201 */
    DFS_TAG_PATIENT_BREED_DESCRIPTION,     /* 0010,2292 */
    DFS_TAG_RESPONSIBLE_PERSON,            /* 0010,2297 */
    DFS_TAG_RESPONSIBLE_ORGANIZATION,      /* 0010,2299 */
    DFS_TAG_PATIENT_COMMENTS,              /* 0010,4000 */
    DFS_TAG_PATIENT_IDENTITY_REMOVED,      /* 0012,0062 */
    DFS_TAG_DEIDENTIFICATION_METHOD,       /* 0012,0063 */
    DFS_TAG_NUMBER_OF_PATIENT_RELATED_STUDIES,   /* 0020,1200 */
    DFS_TAG_NUMBER_OF_PATIENT_RELATED_SERIES,    /* 0020,1202 */
    DFS_TAG_NUMBER_OF_PATIENT_RELATED_INSTANCES, /* 0020,1204 */
};

static const guint32 study_tags[] = {
    DFS_TAG_STUDY_DATE,                    /* 0008,0020 */
    DFS_TAG_STUDY_TIME,                    /* 0008,0030 */
    DFS_TAG_ACCESSION_NUMBER,              /* 0008,0050 */
    DFS_TAG_ISSUER_OF_ACCESSION_NUMBER_SEQUENCE, /* 0008,0051 */
    DFS_TAG_MODALITIES_IN_STUDY,           /* 0008,0061 */
    DFS_TAG_SOP_CLASSES_IN_STUDY,          /* 0008,0062 */
    DFS_TAG_REFERRING_PHYSICIAN_NAME,      /* 0008,0090 */
    DFS_TAG_STUDY_DESCRIPTION,             /* 0008,1030 */
    DFS_TAG_PROCEDURE_CODE_SEQUENCE,       /* 0008,1032 */
    DFS_TAG_PHYSICIANS_OF_RECORD,          /* 0008,1048 */
    DFS_TAG_NAME_OF_PHYSICIANS_READING_STUDY, /* 0008,1060 */
    DFS_TAG_ADMITTING_DIAGNOSES_DESCRIPTION,  /* 0008,1080 */
    DFS_TAG_REFERENCED_STUDY_SEQUENCE,     /* 0008,1110 */
    DFS_TAG_PATIENT_AGE,                   /* 0010,1010 */
    DFS_TAG_PATIENT_SIZE,                  /* 0010,1020 */
    DFS_TAG_PATIENT_WEIGHT,                /* 0010,1030 */
    DFS_TAG_OCCUPATION,                    /* 0010,2180 */
    DFS_TAG_ADDITIONAL_PATIENT_HISTORY,    /* 0010,21B0 */
    DFS_TAG_STUDY_INSTANCE_UID,            /* 0020,000D */
    DFS_TAG_STUDY_ID,                      /* 0020,0010 */
    DFS_TAG_NUMBER_OF_STUDY_RELATED_SERIES,    /* 0020,1206 */
    DFS_TAG_NUMBER_OF_STUDY_RELATED_INSTANCES, /* 0020,1208 */
};

static const guint32 series_tags[] = {
    DFS_TAG_SERIES_DATE,                   /* 0008,0021 */
    DFS_TAG_SERIES_TIME,                   /* 0008,0031 */
    DFS_TAG_MODALITY,                      /* 0008,0060 */
    DFS_TAG_MANUFACTURER,                  /* 0008,0070 */
    DFS_TAG_INSTITUTION_NAME,              /* 0008,0080 */
    DFS_TAG_STATION_NAME,                  /* 0008,1010 */
    DFS_TAG_SERIES_DESCRIPTION,            /* 0008,103E */
    DFS_TAG_INSTITUTIONAL_DEPARTMENT_NAME, /* 0008,1040 */
    DFS_TAG_PERFORMING_PHYSICIAN_NAME,     /* 0008,1050 */
    DFS_TAG_OPERATORS_NAME,                /* 0008,1070 */
    DFS_TAG_MANUFACTURER_MODEL_NAME,       /* 0008,1090 */
    DFS_TAG_BODY_PART_EXAMINED,            /* 0018,0015 */
    DFS_TAG_DEVICE_SERIAL_NUMBER,          /* 0018,1000 */
    DFS_TAG_SOFTWARE_VERSIONS,             /* 0018,1020 */
    DFS_TAG_PROTOCOL_NAME,                 /* 0018,1030 */
    DFS_TAG_PATIENT_POSITION,              /* 0018,5100 */
    DFS_TAG_SERIES_INSTANCE_UID,           /* 0020,000E */
    DFS_TAG_SERIES_NUMBER,                 /* 0020,0011 */
    DFS_TAG_FRAME_OF_REFERENCE_UID,        /* 0020,0052 */
    DFS_TAG_LATERALITY,                    /* 0020,0060 */
    DFS_TAG_POSITION_REFERENCE_INDICATOR,  /* 0020,1040 */
    DFS_TAG_NUMBER_OF_SERIES_RELATED_INSTANCES, /* 0020,1209 */
    DFS_TAG_PERFORMED_PROCEDURE_STEP_START_DATE, /* 0040,0244 */
    DFS_TAG_PERFORMED_PROCEDURE_STEP_START_TIME, /* 0040,0245 */
    DFS_TAG_REQUEST_ATTRIBUTES_SEQUENCE,   /* 0040,0275 */
};

static int compare_tag(const void *a, const void *b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
    return x < y ? -1 : x > y;
}

gboolean dfs_level_has_tag(DfsLevel level, guint32 tag)
{
    const guint32 *list;
    gsize n;
    switch (level) {
    case DFS_LEVEL_PATIENT: list = patient_tags; n = G_N_ELEMENTS(patient_tags); break;
    case DFS_LEVEL_STUDY: list = study_tags; n = G_N_ELEMENTS(study_tags); break;
    case DFS_LEVEL_SERIES: list = series_tags; n = G_N_ELEMENTS(series_tags); break;
    default: return FALSE;
    }
    return bsearch(&tag, list, n, sizeof(guint32), compare_tag) != NULL;
}
