#include "base/error.h"

G_DEFINE_QUARK(dfs-error-quark, dfs_error)
