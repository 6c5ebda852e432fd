package dev.switchboard.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleUnaryOperator;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;

/**
 * A tiny line-chart writer (Java2D + ImageIO, headless), so the bench can draw its own PNGs with no
 * plotting tool and no network: latency percentile curves and memory per connection as N grows.
 */
final class Plotter {

  private static final Color[] COLORS = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
      new Color(0x9467bd), new Color(0x8c564b)};

  /** One line; {@code dashed} for a secondary measure of the same variant. */
  record Series(String name, double[] x, double[] y, int color, boolean dashed) {}

  static {
    // no display on servers and CI: draw off-screen
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  private Plotter() {}

  /**
   * Latency by percentile on the usual "nines" axis: x = log10(1 / (1 - p)), labelled 0%, 90%, 99% …
   */
  static void latency(Path file, String title, List<String> names, List<Histogram> hists) throws IOException {
    List<Series> series = new ArrayList<>();
    double maxNines = 1;
    for (int i = 0; i < hists.size(); i++) {
      Histogram h = hists.get(i);
      if (h == null || h.getTotalCount() == 0) {
        continue;
      }
      List<double[]> pts = new ArrayList<>();
      long total = h.getTotalCount();
      // 0 … (1 - 1/total): the last percentile the data can show
      double top = Math.min(5, Math.log10(total));
      for (double nines = 0; nines <= top + 1e-9; nines += 0.02) {
        double p = 100 * (1 - Math.pow(10, -nines));
        pts.add(new double[] {nines, h.getValueAtPercentile(p) / 1000.0});
      }
      pts.add(new double[] {top, h.getMaxValue() / 1000.0});
      maxNines = Math.max(maxNines, top);
      series.add(new Series(names.get(i), pts.stream().mapToDouble(a -> a[0]).toArray(),
          pts.stream().mapToDouble(a -> a[1]).toArray(), i, false));
    }
    List<double[]> xticks = new ArrayList<>();
    String[] labels = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int k = 0; k <= Math.ceil(maxNines) && k < labels.length; k++) {
      xticks.add(new double[] {k});
    }
    draw(file, title, "percentile", "publish→receive latency (ms)", series, Math.ceil(maxNines),
        x -> labels[(int) Math.round(x)], xticks.stream().mapToDouble(a -> a[0]).toArray());
  }

  /** Lines of y against x with numeric x ticks. */
  static void lines(Path file, String title, String xLabel, String yLabel, List<Series> series) throws IOException {
    double maxX = series.stream().flatMapToDouble(s -> java.util.Arrays.stream(s.x())).max().orElse(1);
    double[] ticks = niceTicks(maxX);
    draw(file, title, xLabel, yLabel, series, ticks[ticks.length - 1],
        x -> String.format(Locale.ROOT, "%,.0f", x), ticks);
  }

  private static void draw(Path file, String title, String xLabel, String yLabel, List<Series> series, double maxX,
                           DoubleUnaryOperatorLabel xLabelOf, double[] xTicks) throws IOException {
    int width = 900;
    int height = 560;
    int left = 90;
    int right = 30;
    int top = 60;
    int bottom = 70;
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    double maxY = 0;
    for (Series s : series) {
      for (double y : s.y()) {
        if (!Double.isNaN(y)) {
          maxY = Math.max(maxY, y);
        }
      }
    }
    double[] yTicks = niceTicks(maxY <= 0 ? 1 : maxY);
    double yTop = yTicks[yTicks.length - 1];
    double xSpan = maxX <= 0 ? 1 : maxX;
    int pw = width - left - right;
    int ph = height - top - bottom;
    DoubleUnaryOperator px = x -> left + x / xSpan * pw;
    DoubleUnaryOperator py = y -> top + ph - y / yTop * ph;

    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 17));
    g.setColor(Color.BLACK);
    g.drawString(title, left, 32);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    // grid and ticks
    for (double y : yTicks) {
      int yy = (int) py.applyAsDouble(y);
      g.setColor(new Color(0xe6e6e6));
      g.drawLine(left, yy, left + pw, yy);
      g.setColor(Color.DARK_GRAY);
      String l = y == Math.rint(y) ? String.format(Locale.ROOT, "%,.0f", y) : String.format(Locale.ROOT, "%.2f", y);
      g.drawString(l, left - 8 - g.getFontMetrics().stringWidth(l), yy + 5);
    }
    for (double x : xTicks) {
      int xx = (int) px.applyAsDouble(x);
      g.setColor(new Color(0xe6e6e6));
      g.drawLine(xx, top, xx, top + ph);
      g.setColor(Color.DARK_GRAY);
      String l = xLabelOf.label(x);
      g.drawString(l, xx - g.getFontMetrics().stringWidth(l) / 2, top + ph + 20);
    }
    g.setColor(Color.BLACK);
    g.drawRect(left, top, pw, ph);
    g.drawString(xLabel, left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, height - 22);
    Graphics2D gy = (Graphics2D) g.create();
    gy.rotate(-Math.PI / 2);
    gy.drawString(yLabel, -(top + ph / 2) - g.getFontMetrics().stringWidth(yLabel) / 2, 22);
    gy.dispose();
    // lines
    for (Series s : series) {
      g.setColor(COLORS[s.color() % COLORS.length]);
      g.setStroke(s.dashed()
          ? new BasicStroke(2.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 6f}, 0f)
          : new BasicStroke(2.4f));
      int prevX = -1;
      int prevY = -1;
      for (int i = 0; i < s.x().length; i++) {
        if (Double.isNaN(s.y()[i])) {
          prevX = -1;
          continue;
        }
        int xx = (int) px.applyAsDouble(s.x()[i]);
        int yy = (int) py.applyAsDouble(s.y()[i]);
        if (prevX >= 0) {
          g.drawLine(prevX, prevY, xx, yy);
        }
        if (s.x().length <= 12) {
          g.fillOval(xx - 3, yy - 3, 7, 7);
        }
        prevX = xx;
        prevY = yy;
      }
    }
    // legend, on a white box so it stays readable over the lines
    g.setStroke(new BasicStroke(2.4f));
    int legendWidth = 60 + series.stream().mapToInt(x -> g.getFontMetrics().stringWidth(x.name())).max().orElse(0);
    g.setColor(new Color(255, 255, 255, 230));
    g.fillRect(left + 6, top + 4, legendWidth, 20 * series.size() + 8);
    int ly = top + 18;
    for (Series s : series) {
      g.setColor(COLORS[s.color() % COLORS.length]);
      if (s.dashed()) {
        g.setStroke(new BasicStroke(2.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 6f}, 0f));
      }
      g.drawLine(left + 14, ly - 5, left + 44, ly - 5);
      g.setStroke(new BasicStroke(2.4f));
      g.setColor(Color.BLACK);
      g.drawString(s.name(), left + 52, ly);
      ly += 20;
    }
    g.dispose();
    Files.createDirectories(file.toAbsolutePath().getParent());
    ImageIO.write(img, "png", file.toFile());
  }

  @FunctionalInterface
  private interface DoubleUnaryOperatorLabel {
    String label(double x);
  }

  /** 0 and 4–8 round steps up to at least {@code max}. */
  static double[] niceTicks(double max) {
    double raw = max / 5;
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = mag;
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * mag >= raw) {
        step = m * mag;
        break;
      }
    }
    int n = (int) Math.ceil(max / step - 1e-9);
    double[] t = new double[Math.max(1, n) + 1];
    for (int i = 0; i < t.length; i++) {
      t[i] = i * step;
    }
    return t;
  }
}
