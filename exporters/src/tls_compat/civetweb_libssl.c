/* Built as libpoolscope-civetweb-libssl.so with the soname "libssl.so" and a
 * dependency on the real libssl.so.3: the library CivetWeb finds when it
 * loads OpenSSL at run time (see PrepareCivetwebTls in ../http_server.cc).
 *
 * CivetWeb 1.15 looks up SSL_get_peer_certificate, which OpenSSL 3 keeps
 * only as a macro for SSL_get1_peer_certificate (same contract: the caller
 * owns one reference). Every other symbol comes from libssl.so.3 itself.
 * The OpenSSL headers are not included: they would turn this definition
 * into one of SSL_get1_peer_certificate. */
typedef struct ssl_st SSL;
typedef struct x509_st X509;

extern X509* SSL_get1_peer_certificate(const SSL* s);

__attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* s) {
  return SSL_get1_peer_certificate(s);
}
