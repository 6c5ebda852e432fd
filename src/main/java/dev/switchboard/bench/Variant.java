package dev.switchboard.bench;

/**
 * One column of the report: a server set-up and how the clients connect to it. The variant labelled
 * {@code bare} is the baseline the others are divided by.
 */
record Variant(String label, NodeGroup.Spec spec, LoadClient.Compression clientCompression) {

  static final String BASELINE = "bare";

  boolean baseline() {
    return label.equals(BASELINE);
  }
}
