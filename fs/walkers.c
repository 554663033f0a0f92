/* dicomfs fs: who stats what it lists.  See walkers.h.
 *
 * A small table of recent callers, by pid (the kernel's thread id of the
 * caller): bounded, entries forgotten after a quiet spell, so a reused pid
 * starts over as a walker. */
#include "walkers.h"

#define WALKERS_MAX 256
#define QUIET_US (10 * G_USEC_PER_SEC)

typedef struct {
    pid_t pid;
    gboolean stats;
    gint64 seen;
} Walker;

static GMutex lock;
static Walker walkers[WALKERS_MAX];

/* pid's entry, made (over the stalest one) if need be; under lock. */
static Walker *walker_of(pid_t pid, gint64 now, gboolean make)
{
    Walker *stalest = &walkers[0];
    for (guint k = 0; k < WALKERS_MAX; k++) {
        Walker *w = &walkers[k];
        if (w->pid == pid && w->seen != 0) {
            if (now - w->seen > QUIET_US)
                w->stats = FALSE; /* another process, or the same one much later */
            return w;
        }
        if (w->seen < stalest->seen)
            stalest = w;
    }
    if (!make)
        return NULL;
    *stalest = (Walker){.pid = pid};
    return stalest;
}

gboolean dfs_walkers_want_attributes(pid_t pid)
{
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&lock);
    Walker *w = walker_of(pid, now, TRUE);
    w->seen = now;
    gboolean stats = w->stats;
    g_mutex_unlock(&lock);
    return stats;
}

void dfs_walkers_looked_up(pid_t pid)
{
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&lock);
    Walker *w = walker_of(pid, now, FALSE);
    if (w != NULL) {
        w->stats = TRUE;
        w->seen = now;
    }
    g_mutex_unlock(&lock);
}
