/* core-link: every file of the httpd-free core linked into one program with APR, hiredis and
 * jansson only (see t/unit/build.mk). Linking is the test: an httpd symbol anywhere in src/
 * would be unresolved. */
int main(void)
{
    return 0;
}
