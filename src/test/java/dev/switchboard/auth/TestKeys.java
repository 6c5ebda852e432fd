package dev.switchboard.auth;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Base64;

/**
 * Key pairs, PEM and JWK encodings, and tokens signed every way a test needs — good ones and forged ones.
 * Keys are generated per run with {@link KeyPairGenerator}; signing goes through vertx-auth-jwt itself, so
 * a test token is exactly what a real issuer using that library would produce.
 */
public final class TestKeys {

  private TestKeys() {}

  public static KeyPair rsa() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(2048);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A P-256 key pair, for ES256. */
  public static KeyPair ec() {
    return ec("secp256r1");
  }

  /** An EC key pair on the named curve: secp256r1 (ES256), secp384r1 (ES384), secp521r1 (ES512). */
  public static KeyPair ec(String curve) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec(curve));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** -----BEGIN PUBLIC KEY----- (X.509 SubjectPublicKeyInfo), what auth.jwt_public_key takes. */
  public static String publicPem(KeyPair kp) {
    return pem("PUBLIC KEY", kp.getPublic().getEncoded());
  }

  /** -----BEGIN PRIVATE KEY----- (PKCS#8). */
  public static String privatePem(KeyPair kp) {
    return pem("PRIVATE KEY", kp.getPrivate().getEncoded());
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(der) + "\n-----END " + type + "-----\n";
  }

  /** The public half as a JWK, for a JWKS document. */
  public static JsonObject jwk(KeyPair kp, String alg, String kid) {
    JsonObject k = new JsonObject().put("kid", kid).put("alg", alg).put("use", "sig");
    if (kp.getPublic() instanceof RSAPublicKey r) {
      return k.put("kty", "RSA").put("n", b64(unsigned(r.getModulus(), 0))).put("e", b64(unsigned(r.getPublicExponent(), 0)));
    }
    ECPublicKey e = (ECPublicKey) kp.getPublic();
    return k.put("kty", "EC").put("crv", "P-256")
        .put("x", b64(unsigned(e.getW().getAffineX(), 32))).put("y", b64(unsigned(e.getW().getAffineY(), 32)));
  }

  public static JsonObject jwks(JsonObject... keys) {
    return new JsonObject().put("keys", new JsonArray(Arrays.asList((Object[]) keys)));
  }

  /** Big-endian magnitude without the sign byte, left-padded to size when size > 0. */
  private static byte[] unsigned(BigInteger v, int size) {
    byte[] b = v.toByteArray();
    if (b.length > 1 && b[0] == 0) {
      b = Arrays.copyOfRange(b, 1, b.length);
    }
    if (size > 0 && b.length < size) {
      byte[] p = new byte[size];
      System.arraycopy(b, 0, p, size - b.length, b.length);
      b = p;
    }
    return b;
  }

  private static String b64(byte[] b) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static String b64(String s) {
    return b64(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A token signed with the private key of kp ({@code RS256} or {@code ES256}), header kid set when kid is
   * non-null, valid for an hour unless claims carry their own exp.
   */
  public static String sign(Vertx vertx, String alg, KeyPair kp, String kid, JsonObject claims) {
    PubSecKeyOptions key = new PubSecKeyOptions().setAlgorithm(alg).setBuffer(privatePem(kp));
    if (kid != null) {
      key.setId(kid);
    }
    JWTAuth jwt = JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(key));
    JWTOptions o = new JWTOptions().setAlgorithm(alg);
    if (!claims.containsKey("exp")) {
      o.setExpiresInSeconds(3600);
    }
    return jwt.generateToken(claims.copy(), o);
  }

  /** HS256 with the given secret. */
  public static String hs256(Vertx vertx, String secret, JsonObject claims) {
    JWTAuth jwt = JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret)));
    JWTOptions o = new JWTOptions().setAlgorithm("HS256");
    if (!claims.containsKey("exp")) {
      o.setExpiresInSeconds(3600);
    }
    return jwt.generateToken(claims.copy(), o);
  }

  /** HS256 with the given secret and header kid: the confusion forgery aimed at one key of a JWKS. */
  public static String hs256(Vertx vertx, String secret, String kid, JsonObject claims) {
    JWTAuth jwt = JWTAuth.create(vertx, new JWTAuthOptions()
        .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret).setId(kid)));
    return jwt.generateToken(claims.copy(), new JWTOptions().setAlgorithm("HS256").setExpiresInSeconds(3600));
  }

  /** An unsecured JWT: {@code alg: none}, empty signature (the trailing dot kept when withDot). */
  public static String unsecured(JsonObject claims, boolean withDot) {
    String t = b64(new JsonObject().put("alg", "none").put("typ", "JWT").encode()) + "." + b64(claims.encode());
    return withDot ? t + "." : t;
  }

  /**
   * The classic algorithm-confusion forgery: an HS256 token whose HMAC key is the server's RSA public key
   * PEM, which a verifier that lets the token pick the algorithm would accept.
   */
  public static String hs256WithPublicKey(Vertx vertx, KeyPair kp, JsonObject claims) {
    return hs256(vertx, publicPem(kp), claims);
  }

  /** Same header and claims as token, but the claims re-encoded with changes (signature left as it was). */
  public static String tamper(String token, JsonObject newClaims) {
    String[] parts = token.split("\\.");
    return parts[0] + "." + b64(newClaims.encode()) + "." + parts[2];
  }

  public static long now() {
    return System.currentTimeMillis() / 1000;
  }
}
