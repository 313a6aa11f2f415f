/* tw_origin: is a POST from the feed's own pages? The same-origin rule applied to what the
 * browser says (Sec-Fetch-Site, Origin). httpd-free, pure. */
#ifndef TW_ORIGIN_H
#define TW_ORIGIN_H

/* Decide whether a POST comes from the same origin as `scheme`://`host` (the request's own
 * scheme and Host, as the client used them; host may carry a port). `fetch_site` and
 * `origin` are the Sec-Fetch-Site and Origin headers, NULL when absent. Sec-Fetch-Site
 * decides when present ("same-origin" or "none", i.e. typed by the user, pass); else Origin
 * must equal scheme://host (case-insensitive, a default port may be written or not); a
 * request with neither comes from no browser (browsers send Origin with every POST) and
 * passes. Returns NULL, or the reason for a 403. O(length of the headers). */
const char *tw_origin_check(const char *fetch_site, const char *origin, const char *scheme,
                            const char *host);

#endif
