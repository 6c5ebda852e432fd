package dev.switchboard.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchboard.SwitchboardNode;
import dev.switchboard.testing.TestNodes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The demo page on a node with the shipped default, demo tokens off, in headless Chromium
 * (src/test/js/browser/signin.browser.mjs): the page offers the paste-a-token box at once, signs in with a
 * pasted token, and a browser logs no console error on the way (it used to request /demo/token and get a 404).
 */
class DemoSignInIT {

  @Test
  void withoutDemoTokensThePageAsksForATokenAndSignsInWithIt() throws Exception {
    Path basedir = Path.of(System.getProperty("switchboard.basedir", System.getProperty("basedir", "."))).toAbsolutePath();
    assertTrue(Files.isDirectory(basedir.resolve("src/test/js/node_modules/playwright-core")),
        "run `npm install` in src/test/js first (.ci/run does)");
    SwitchboardNode node = TestNodes.standalone();
    try {
      Process browser = new ProcessBuilder("node", basedir.resolve("src/test/js/browser/signin.browser.mjs").toString(),
          "http://127.0.0.1:" + node.port() + "/", TestNodes.token("carol", "lobby"))
          .directory(basedir.toFile())
          .redirectErrorStream(true)
          .start();
      boolean exited = browser.waitFor(60, TimeUnit.SECONDS);
      if (!exited) {
        browser.destroyForcibly();
      }
      String transcript = new String(browser.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(exited, "the browser script did not exit:\n" + transcript);
      assertEquals(0, browser.exitValue(), "browser scenario failed:\n" + transcript);
      assertTrue(transcript.contains("OK signin:"), transcript);
    } finally {
      node.close().await();
    }
  }
}
