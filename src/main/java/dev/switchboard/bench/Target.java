package dev.switchboard.bench;

/** What a bench run drives: the Switchboard node from this jar, or the bare Vert.x baseline. */
enum Target {
  SWITCHBOARD("switchboard"),
  BARE("bare");

  private final String label;

  Target(String label) {
    this.label = label;
  }

  String label() {
    return label;
  }
}
