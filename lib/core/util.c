/* SPDX-License-Identifier: MIT */
/* Small string helpers shared by the data and serialization modules. */
#include "tg_internal.h"

#include <string.h>

char *tg__strdup(tg_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = tg__malloc(ctx, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *tg__path_join(tg_ctx *ctx, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    bool slash = la > 0 && a[la - 1] != '/';
    char *p = tg__malloc(ctx, la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    if (slash)
        p[la++] = '/';
    memcpy(p + la, b, lb + 1);
    return p;
}
