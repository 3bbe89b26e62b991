/* Built as libpoolscope-civetweb-libcrypto.so with the soname
 * "libcrypto.so" and a dependency on the real libcrypto.so.3, so that
 * CivetWeb's run-time dlopen("libcrypto.so") works without the libssl-dev
 * symlink; every symbol it looks up comes from libcrypto.so.3. Nothing is
 * defined here but a marker. */
__attribute__((visibility("default"))) const char poolscope_civetweb_libcrypto[] =
    "libcrypto.so.3 for CivetWeb";
