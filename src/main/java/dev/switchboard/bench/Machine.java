package dev.switchboard.bench;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the figures were measured on: cores, memory, CPU model, kernel, JVM, open-file limit, load. */
final class Machine {

  private Machine() {}

  static JsonObject describe() {
    return new JsonObject()
        .put("cores", CpuSampler.cores())
        .put("memory_gib", Math.round(memTotalKib() / 1024.0 / 1024.0 * 10) / 10.0)
        .put("cpu", cpuModel())
        .put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"))
        .put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"))
        .put("open_files_limit", openFilesLimit())
        .put("load_average_1m", CpuSampler.loadAverage());
  }

  /** The soft "Max open files" limit of this process (the nodes inherit it), or -1. */
  static long openFilesLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String[] f = line.substring("Max open files".length()).trim().split("\\s+");
          return f[0].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }

  private static long memTotalKib() {
    return firstNumber(Path.of("/proc/meminfo"), "MemTotal:");
  }

  private static String cpuModel() {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
      for (String l : lines) {
        if (l.startsWith("model name")) {
          return l.substring(l.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return "unknown";
  }

  private static long firstNumber(Path file, String prefix) {
    try {
      for (String l : Files.readAllLines(file)) {
        if (l.startsWith(prefix)) {
          return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return 0;
  }
}
