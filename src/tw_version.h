/* tw_version.h: the version of mod_tweetsse, written here and nowhere else. debian/changelog
 * and CHANGELOG.md name the same version (t/package/version.test.mjs checks that they agree).
 * Semantic versioning: the patch number for fixes, the minor number for features and for
 * changes that need every instance of a feed upgraded together (while below 1.0), the major
 * number for incompatible changes after 1.0. The module logs it at start (TW0020) and shows it
 * in server-status; it is never added to the Server header. */
#ifndef TW_VERSION_H
#define TW_VERSION_H

#define TW_VERSION "0.9.0"

#endif
