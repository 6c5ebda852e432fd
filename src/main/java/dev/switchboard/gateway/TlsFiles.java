package dev.switchboard.gateway;

import dev.switchboard.config.ConfigException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * Checks {@code server.tls.cert} and {@code server.tls.key} before the server listens. Vert.x reads them only
 * when it builds the TLS context, and a key that does not belong to the certificate is not caught at all:
 * the node reports ready and every handshake fails. Here a file that cannot be read names its key, and a
 * PKCS#8 key ({@code -----BEGIN PRIVATE KEY-----}, what {@code openssl req -newkey} writes) must sign what the
 * certificate's public key verifies. Other key formats are left to Vert.x, which reads them too.
 */
final class TlsFiles {

  private TlsFiles() {}

  static void check(String certPath, String keyPath) {
    X509Certificate cert;
    try (var in = new ByteArrayInputStream(read(certPath, "server.tls.cert"))) {
      cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    } catch (GeneralSecurityException | IOException e) {
      throw new ConfigException("server.tls.cert", certPath + " is not a PEM certificate: " + e.getMessage());
    }
    String key = new String(read(keyPath, "server.tls.key"), StandardCharsets.US_ASCII);
    if (!key.contains("-----BEGIN PRIVATE KEY-----")) {
      if (!key.contains("PRIVATE KEY-----")) {
        throw new ConfigException("server.tls.key", keyPath + " holds no PEM private key");
      }
      return;
    }
    String alg = cert.getPublicKey().getAlgorithm();
    try {
      byte[] der = Base64.getMimeDecoder().decode(key.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", ""));
      PrivateKey priv = KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
      String sigAlg = "EC".equals(alg) ? "SHA256withECDSA" : "RSA".equals(alg) ? "SHA256withRSA" : null;
      if (sigAlg == null) {
        return;
      }
      byte[] probe = "switchboard".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(sigAlg);
      signer.initSign(priv);
      signer.update(probe);
      Signature verifier = Signature.getInstance(sigAlg);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(probe);
      if (!verifier.verify(signer.sign())) {
        throw new ConfigException("server.tls.key", keyPath + " does not belong to the certificate in " + certPath);
      }
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new ConfigException("server.tls.key", keyPath + " is not a " + alg + " private key for the certificate in "
          + certPath + ": " + e.getMessage());
    }
  }

  private static byte[] read(String path, String key) {
    try {
      return Files.readAllBytes(Path.of(path));
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(key, "cannot read " + path + " (relative paths are from the working directory): " + e);
    }
  }
}
