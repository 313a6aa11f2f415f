#include "tw_origin.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* The port of an authority "host[:port]" ("[v6]:port" too), or NULL; *hlen is the host's
 * length. */
static const char *tw_origin_port(const char *auth, size_t n, size_t *hlen)
{
    const char *colon = NULL;
    const char *close = auth[0] == '[' ? memchr(auth, ']', n) : NULL;
    const char *from = close ? close : auth;
    const char *c = memchr(from, ':', n - (size_t)(from - auth));
    if (c && !memchr(c + 1, ':', n - (size_t)(c + 1 - auth)))
        colon = c;
    *hlen = colon ? (size_t)(colon - auth) : n;
    return colon ? colon + 1 : NULL;
}

/* Do two authorities name the same host and port, the scheme's default port written or not? */
static int tw_origin_same_authority(const char *a, size_t an, const char *b, size_t bn,
                                    const char *dflt)
{
    size_t ah, bh;
    const char *ap = tw_origin_port(a, an, &ah), *bp = tw_origin_port(b, bn, &bh);
    size_t apl = ap ? an - (size_t)(ap - a) : strlen(dflt);
    size_t bpl = bp ? bn - (size_t)(bp - b) : strlen(dflt);
    if (!ap)
        ap = dflt;
    if (!bp)
        bp = dflt;
    return ah == bh && strncasecmp(a, b, ah) == 0 && apl == bpl && memcmp(ap, bp, apl) == 0;
}

const char *tw_origin_check(const char *fetch_site, const char *origin, const char *scheme,
                            const char *host)
{
    if (fetch_site) {
        if (!strcasecmp(fetch_site, "same-origin") || !strcasecmp(fetch_site, "none"))
            return NULL;
        return "this form may only be sent from the feed's own page (the browser says the "
               "request is cross-site)";
    }
    if (!origin)
        return NULL;
    size_t sn = strlen(scheme);
    if (!host || strncasecmp(origin, scheme, sn) != 0 || strncmp(origin + sn, "://", 3) != 0)
        return "this form may only be sent from the feed's own page (Origin differs)";
    const char *auth = origin + sn + 3;
    const char *dflt = !strcasecmp(scheme, "https") ? "443" : "80";
    if (!tw_origin_same_authority(auth, strlen(auth), host, strlen(host), dflt))
        return "this form may only be sent from the feed's own page (Origin differs)";
    return NULL;
}
