#pragma once
// Small helpers shared by the chart widgets of views/ (presentation only):
// short layer names, the fonts every chart uses, log-axis set-up and a clean
// reset of a QChart.
#include <string>

#include <QColor>
#include <QFont>
#include <QString>

class QCategoryAxis;
class QChart;
class QChartView;
class QLogValueAxis;
#include <QStringList>

namespace qs::views {

/// "<block>.<kind>" (e.g. "3.down") from a block index and a linearKindName.
QString shortLayerName(int block, const std::string& kind);
/// The kind ("q", "k", "v", "o", "gate", "up", "down", "fc1", "fc2") of a
/// canonical linear name ("model.layers.3.mlp.down_proj",
/// "model.decoder.layers.0.fc1", "transformer.h.2.attn.c_attn.q", ...); empty
/// when the name is not one of core's canonical linear names.
std::string kindFromLayerName(const std::string& name);
/// The block index in a canonical linear name ("...layers.3..." / "...h.3..."), -1 when none.
int blockFromLayerName(const std::string& name);
/// "3.down" from a canonical name (block < 0: taken from the name); "lm_head" and
/// "embed" for the tensors outside the blocks; otherwise the name's last two
/// dot-separated parts.
QString shortLayerName(const std::string& name, int block = -1);

/// The chart fonts derived from a widget's font (as SensitivityChart set them):
/// tick labels and legend 1.5 pt smaller (at least 7 pt), axis titles 0.5 pt
/// smaller (at least 8 pt), the chart title bold.
QFont chartSmallFont(const QFont& base);
QFont chartAxisTitleFont(const QFont& base);
QFont chartTitleFont(const QFont& base);
/// Applies those fonts to the title, every axis (labels and titles) and the legend.
void applyChartFonts(QChart* chart, const QFont& base);

/// Removes and deletes every series and axis of a chart.
void clearChart(QChart* chart);

/// A base-10 log axis over whole decades covering [lo, hi] (lo > 0; at least one
/// decade; the ends widened by 1e-9 relative so both end labels show), labels
/// "%.0e", minor ticks per decade.
QLogValueAxis* makeDecadeLogAxis(double lo, double hi);

/// The x axis of a per-layer chart: a QCategoryAxis over n layers (layer i at x = i,
/// range -0.5 .. n - 0.5), labels on the values, no grid lines; label it with
/// fitCategoryLabels.
QCategoryAxis* makeLayerAxis(int n, const QString& title);
/// Labels a per-layer QCategoryAxis (category i at x = i) so the labels stay
/// readable: all of them side by side when they fit, else rotated by -90° (not
/// elided), and when even rotated ones would overlap, every k-th with k the smallest
/// stride at which they do not. `view` gives the plot width (estimated from the
/// view's width before it is laid out). Returns the stride used; nothing is redone
/// when `stride` (the previous one) and the rotation are unchanged.
int fitCategoryLabels(QCategoryAxis* axis, const QStringList& categories, const QChartView* view, int stride);

/// Distinct colours for several runs/series (Tableau 10), cycling.
QColor seriesColor(int i);

}  // namespace qs::views
