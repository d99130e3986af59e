// Tests of the chart widgets of views/ (offscreen): the outlier-channel heatmap
// (rows, sections by input width, values, log colour mapping, colour range = data
// range, grey for NaN/0, max pooling when downsampled, tooltips, top-outlier
// rings, device-pixel rendering, empty/vector-less reports), the per-layer error
// chart (series, categories, log axis range, absent errors, bits lines, the
// LayerResult / LayerResultRow helpers) and the shared chart helpers. Every
// widget is also saved as a PNG under <build>/tests/test_charts_png/ at a
// realistic size, with hand-made data and, when ../shared is present, with a
// report and two runs that quantscope-cli made on stories260K.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>
#include <QAbstractAxis>
#include <QChart>

#include "alloc/sensitivity.h"
#include "chart_util.h"
#include "layer_error_chart.h"
#include "outlier_heatmap.h"
#include "quant/pipeline.h"
#include "store/store.h"
#include "testutil.h"

using namespace qs;
using qs::views::LayerErrorChart;
using qs::views::LayerErrorSeries;
using qs::views::OutlierHeatmap;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

QString pngDir() {
    const QString d = QCoreApplication::applicationDirPath() + QStringLiteral("/test_charts_png");
    QDir().mkpath(d);
    return d;
}

/// "name.png", or "name@2x.png" when the screen scales.
QString pngPath(const QString& name, const QWidget* w) {
    const qreal dpr = w->devicePixelRatioF();
    return pngDir() + QLatin1Char('/') + name + (dpr != 1.0 ? QStringLiteral("@%1x").arg(dpr) : QString()) + QStringLiteral(".png");
}

void savePng(QWidget* w, const QString& name) {
    QTest::qWait(20);  // let the charts' graphics layouts settle (legend, axes)
    const QString path = pngPath(name, w);
    QVERIFY2(w->grab().save(path), qPrintable(path));
    qInfo("wrote %s", qPrintable(path));
}

double median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (double(v[n / 2 - 1]) + v[n / 2]);
}

void setStats(ChannelStatsReport& s, std::vector<float> absMax, float meanFactor, float kurtBase) {
    s.absMax = std::move(absMax);
    s.meanAbs.clear();
    s.kurtosis.clear();
    for (size_t c = 0; c < s.absMax.size(); ++c) {
        s.meanAbs.push_back(s.absMax[c] * meanFactor);
        s.kurtosis.push_back(kurtBase + float(c));
    }
    const double mx = *std::max_element(s.absMax.begin(), s.absMax.end());
    s.outlierScore = mx / median(s.absMax);
}

const char* kLinearNames[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                               "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
const char* kKinds[7] = {"q", "k", "v", "o", "gate", "up", "down"};

/// Two LLaMA blocks, hidden 8, intermediate 20. Activation inputs: q/k/v share one
/// vector, gate/up another (as in a real report); block 1's q/k/v input has an
/// outlier of 40 at channel 5; block 0's down input has a 0 at channel 3 and a NaN
/// at channel 4. Weight max |w| differs per layer: 0.01·(k+1)·(c+1).
std::shared_ptr<SensitivityReport> smallReport() {
    auto r = std::make_shared<SensitivityReport>();
    const int H = 8, I = 20;
    for (int b = 0; b < 2; ++b) {
        std::vector<float> attnIn(H), oIn(H), mlpIn(H), downIn(I);
        for (int c = 0; c < H; ++c) {
            attnIn[c] = 0.5f + 0.25f * c + b;
            oIn[c] = 0.2f + 0.05f * c;
            mlpIn[c] = 1.0f + 0.5f * c;
        }
        for (int c = 0; c < I; ++c) downIn[c] = 0.05f + 0.1f * c;
        if (b == 1) attnIn[5] = 40.0f;
        if (b == 0) downIn[3] = 0.0f, downIn[4] = std::numeric_limits<float>::quiet_NaN();
        for (int k = 0; k < 7; ++k) {
            LayerSensitivity l;
            l.name = "model.layers." + std::to_string(b) + "." + kLinearNames[k];
            l.block = b;
            l.kind = kKinds[k];
            l.inFeatures = k == 6 ? I : H;
            l.outFeatures = k == 6 ? H : (k >= 4 ? I : H);
            const std::vector<float>& in = k < 3 ? attnIn : k == 3 ? oIn : k < 6 ? mlpIn : downIn;
            if (b == 0 && k == 6) {
                // setStats's median would see the NaN; set by hand.
                l.activations.absMax = in;
                for (float x : in) l.activations.meanAbs.push_back(0.2f * x), l.activations.kurtosis.push_back(4.0f);
                l.activations.outlierScore = 1.9 / 1.05;
            } else {
                setStats(l.activations, in, 0.2f, 3.0f + b);
            }
            std::vector<float> w(l.inFeatures);
            for (int c = 0; c < int(w.size()); ++c) w[c] = 0.01f * float(k + 1) * float(c + 1);
            setStats(l.weights, w, 0.3f, 3.0f);
            r->layers.push_back(std::move(l));
        }
    }
    const LayerSensitivity& q1 = r->layers[7];
    r->topOutliers.push_back({q1.name, 5, 40.0, 40.0 / (40.0 / q1.activations.outlierScore)});
    r->topOutliers.push_back({r->layers[6 + 7].name, 19, 1.95, 1.2});  // 1.down channel 19
    return r;
}

/// The finite positive extremes of a set of vectors (the expected colour range).
std::pair<double, double> positiveRange(const std::vector<const std::vector<float>*>& vs) {
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (const auto* v : vs)
        for (float x : *v)
            if (std::isfinite(x) && x > 0) lo = std::min(lo, double(x)), hi = std::max(hi, double(x));
    return {lo, hi};
}

/// The number of (row, pixel) positions of an image with colour `c`.
int countColour(const QImage& img, QRgb c) {
    int n = 0;
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x) n += (img.pixel(x, y) & 0xffffff) == (c & 0xffffff);
    return n;
}

/// Log-axis ends are whole decades widened by 1e-9 relative.
bool nearDecade(double a, double b) { return std::abs(a - b) <= 1e-8 * b; }

LayerResult layerResult(const std::string& name, int block, double err, double bits, const char* fmt = "int3-g32") {
    LayerResult r;
    r.name = name;
    r.block = block;
    r.method = QuantMethod::Gptq;
    r.methodName = "gptq";
    r.format = *QuantFormat::parse(fmt);
    r.bitsPerWeight = bits;
    r.relOutputError = err;
    return r;
}

}  // namespace

class TestCharts : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void shortNames();
    void heatmapEmpty();
    void heatmapRowsAndValues();
    void heatmapColourScale();
    void heatmapRendering();
    void heatmapTooltipAndMarks();
    void heatmapMaxPooling();
    void errorChartSeries();
    void errorChartAbsentAndEmpty();
    void errorChartFromStoreRows();
    void errorChartLabels();
    void screenshots();
    void realReportAndRuns();
};

void TestCharts::shortNames() {
    using namespace qs::views;
    QCOMPARE(shortLayerName("model.layers.3.mlp.down_proj"), QStringLiteral("3.down"));
    QCOMPARE(shortLayerName("model.layers.12.self_attn.q_proj"), QStringLiteral("12.q"));
    QCOMPARE(shortLayerName("model.decoder.layers.0.self_attn.out_proj"), QStringLiteral("0.o"));
    QCOMPARE(shortLayerName("model.decoder.layers.1.fc2"), QStringLiteral("1.fc2"));
    QCOMPARE(shortLayerName("transformer.h.2.attn.c_attn.k"), QStringLiteral("2.k"));
    QCOMPARE(shortLayerName("transformer.h.2.attn.c_proj"), QStringLiteral("2.o"));
    QCOMPARE(shortLayerName("transformer.h.2.mlp.c_fc"), QStringLiteral("2.fc1"));
    QCOMPARE(shortLayerName("transformer.h.2.mlp.c_proj"), QStringLiteral("2.fc2"));
    QCOMPARE(shortLayerName("lm_head", -1), QStringLiteral("lm_head"));
    QCOMPARE(shortLayerName("model.embed_tokens", -1), QStringLiteral("embed"));
    QCOMPARE(shortLayerName("something.else.entirely"), QStringLiteral("else.entirely"));
    QCOMPARE(shortLayerName(7, "gate"), QStringLiteral("7.gate"));
    QCOMPARE(blockFromLayerName("model.layers.11.mlp.up_proj"), 11);
    QCOMPARE(blockFromLayerName("lm_head"), -1);
    QCOMPARE(QString::fromStdString(kindFromLayerName("model.layers.0.mlp.gate_proj")), QStringLiteral("gate"));
    QVERIFY(kindFromLayerName("model.norm").empty());
}

void TestCharts::heatmapEmpty() {
    OutlierHeatmap w;
    w.resize(600, 350);
    QVERIFY(w.hint().contains(QStringLiteral("No sensitivity report")));
    QCOMPARE(w.rowCount(), 0);
    QVERIFY(w.toolTipAt(QPoint(300, 150)).isEmpty());
    QCOMPARE(w.cellCenter(0, 0), QPoint(-1, -1));
    QVERIFY(std::isnan(w.colorRange().first));
    QVERIFY(std::isnan(w.colorPosition(1.0)));
    QVERIFY(!w.grab().isNull());

    auto none = std::make_shared<SensitivityReport>();
    w.setReport(none);
    QVERIFY(w.hint().contains(QStringLiteral("no layers")));

    // channelVectors off: the layers are there, the vectors are not.
    auto noVec = smallReport();
    for (auto& l : noVec->layers) {
        l.activations.absMax.clear(), l.activations.meanAbs.clear(), l.activations.kurtosis.clear();
        l.weights.absMax.clear(), l.weights.meanAbs.clear(), l.weights.kurtosis.clear();
    }
    noVec->options.channelVectors = false;
    w.setReport(noVec);
    QVERIFY2(w.hint().contains(QStringLiteral("per-channel vectors")), qPrintable(w.hint()));
    QCOMPARE(w.rowCount(), 0);
    savePng(&w, QStringLiteral("heatmap_no_vectors"));

    // All values zero: nothing for a log scale.
    auto zeros = smallReport();
    for (auto& l : zeros->layers) std::fill(l.activations.absMax.begin(), l.activations.absMax.end(), 0.0f);
    w.setReport(zeros);
    QVERIFY2(w.hint().contains(QStringLiteral("No positive finite value")), qPrintable(w.hint()));
    QVERIFY(std::isnan(w.colorRange().first));

    w.setReport(nullptr);
    QVERIFY(w.hint().contains(QStringLiteral("No sensitivity report")));
}

void TestCharts::heatmapRowsAndValues() {
    auto rep = smallReport();
    OutlierHeatmap w;
    w.setReport(rep);
    QVERIFY(w.hint().isEmpty());
    QCOMPARE(w.statistic(), OutlierHeatmap::ActivationAbsMax);
    // Activation statistic: q/k/v and gate/up share a row; sections by input width.
    const QStringList expect = {"0.q/k/v", "0.o", "0.gate/up", "1.q/k/v", "1.o", "1.gate/up", "0.down", "1.down"};
    QCOMPARE(w.rowCount(), expect.size());
    for (int i = 0; i < w.rowCount(); ++i) QCOMPARE(w.rowLabel(i), expect[i]);
    QCOMPARE(w.sectionCount(), 2);
    QCOMPARE(w.rowChannels(0), 8);
    QCOMPARE(w.rowChannels(6), 20);
    QCOMPARE(w.rowLayers(3), (QStringList{"model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj",
                                          "model.layers.1.self_attn.v_proj"}));
    QCOMPARE(w.value(3, 5), 40.0);
    QCOMPARE(w.value(2, 2), double(rep->layers[4].activations.absMax[2]));
    QCOMPARE(w.value(6, 19), double(rep->layers[6].activations.absMax[19]));
    QVERIFY(std::isnan(w.value(6, 4)));   // the NaN stays NaN
    QCOMPARE(w.value(6, 3), 0.0);
    QVERIFY(std::isnan(w.value(0, 8)));   // outside the row
    QVERIFY(std::isnan(w.value(99, 0)));

    w.setStatistic(OutlierHeatmap::ActivationMeanAbs);
    QCOMPARE(w.rowCount(), 8);
    QCOMPARE(w.value(1, 2), double(rep->layers[3].activations.meanAbs[2]));
    w.setStatistic(OutlierHeatmap::ActivationKurtosis);
    QCOMPARE(w.value(3, 7), double(rep->layers[7].activations.kurtosis[7]));

    // Weights differ per layer: one row per linear.
    w.setStatistic(OutlierHeatmap::WeightAbsMax);
    QCOMPARE(w.findChild<QComboBox*>(QStringLiteral("heatmapStatistic"))->currentData().toInt(),
             int(OutlierHeatmap::WeightAbsMax));
    QCOMPARE(w.rowCount(), 14);
    QCOMPARE(w.rowLabel(0), QStringLiteral("0.q"));
    QCOMPARE(w.rowLabel(1), QStringLiteral("0.k"));
    QCOMPARE(w.rowLabel(12), QStringLiteral("0.down"));
    QCOMPARE(w.value(1, 3), double(rep->layers[1].weights.absMax[3]));

    // Only the linears reading the hidden state: q/k/v and gate/up.
    w.setStatistic(OutlierHeatmap::ActivationAbsMax);
    w.findChild<QCheckBox*>(QStringLiteral("heatmapHiddenOnly"))->setChecked(true);
    QVERIFY(w.hiddenStateOnly());
    QCOMPARE(w.rowCount(), 4);
    QCOMPARE(w.sectionCount(), 1);
    QCOMPARE(w.rowLabel(1), QStringLiteral("0.gate/up"));
    w.setHiddenStateOnly(false);
    QCOMPARE(w.rowCount(), 8);
}

void TestCharts::heatmapColourScale() {
    auto rep = smallReport();
    OutlierHeatmap w;
    w.setReport(rep);
    // Colour range = the finite positive range of the shown statistic (0 and NaN excluded).
    std::vector<const std::vector<float>*> act;
    for (const auto& l : rep->layers) act.push_back(&l.activations.absMax);
    const auto [lo, hi] = positiveRange(act);
    QCOMPARE(w.colorRange().first, lo);
    QCOMPARE(w.colorRange().second, hi);
    QCOMPARE(hi, 40.0);
    QCOMPARE(lo, double(0.05f));
    // Log mapping: ends at 0 and 1, the geometric mean in the middle, a decade = its share.
    QCOMPARE(w.colorPosition(lo), 0.0);
    QCOMPARE(w.colorPosition(hi), 1.0);
    QVERIFY(std::abs(w.colorPosition(std::sqrt(lo * hi)) - 0.5) < 1e-12);
    QVERIFY(std::abs(w.colorPosition(lo * 10) - 1.0 / std::log10(hi / lo)) < 1e-12);
    QCOMPARE(w.colorPosition(hi * 100), 1.0);  // clamped
    QVERIFY(std::isnan(w.colorPosition(0.0)));
    QVERIFY(std::isnan(w.colorPosition(-1.0)));
    QVERIFY(std::isnan(w.colorPosition(kNaN)));
    QVERIFY(std::isnan(w.colorPosition(std::numeric_limits<double>::infinity())));
    QCOMPARE(w.colorFor(0.0), OutlierHeatmap::noValueColor());
    QCOMPARE(w.colorFor(hi), QColor(0xfd, 0xe7, 0x25));
    QCOMPARE(w.colorFor(lo), QColor(0x44, 0x01, 0x54));
    QCOMPARE(OutlierHeatmap::colormap(0.5), QColor(0x21, 0x91, 0x8c));
    // viridis gets lighter monotonically (luma)
    auto luma = [](const QColor& c) { return 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue(); };
    for (int i = 1; i <= 20; ++i)
        QVERIFY(luma(OutlierHeatmap::colormap(i / 20.0)) > luma(OutlierHeatmap::colormap((i - 1) / 20.0)));
    // Colour bar ticks lie inside the data range; over 2.9 decades they are decades.
    const auto ticks = w.colorBarTicks();
    QCOMPARE(int(ticks.size()), 3);
    QCOMPARE(ticks[0], 0.1);
    QCOMPARE(ticks[2], 10.0);
    for (double t : ticks) QVERIFY(t >= lo && t <= hi);

    // The range follows the statistic: weight max |w|.
    w.setStatistic(OutlierHeatmap::WeightAbsMax);
    std::vector<const std::vector<float>*> wts;
    for (const auto& l : rep->layers) wts.push_back(&l.weights.absMax);
    QCOMPARE(w.colorRange().first, positiveRange(wts).first);
    QCOMPARE(w.colorRange().second, positiveRange(wts).second);

    // One value: the range is a point; everything maps to the middle.
    auto one = smallReport();
    for (auto& l : one->layers) std::fill(l.activations.absMax.begin(), l.activations.absMax.end(), 2.0f);
    w.setStatistic(OutlierHeatmap::ActivationAbsMax);
    w.setReport(one);
    QCOMPARE(w.colorRange().first, 2.0);
    QCOMPARE(w.colorRange().second, 2.0);
    QCOMPARE(w.colorPosition(2.0), 0.5);
}

void TestCharts::heatmapRendering() {
    auto rep = smallReport();
    OutlierHeatmap w;
    w.resize(600, 350);
    w.setReport(rep);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const qreal dpr = w.canvas()->devicePixelRatioF();
    QCOMPARE(w.sectionCount(), 2);
    const QImage img = w.sectionImage(0);
    QVERIFY(!img.isNull());
    // Rendered at device pixels (HiDPI): the image carries the ratio and is wider than the logical map would be in pixels.
    QCOMPARE(img.devicePixelRatio(), dpr);
    QVERIFY2(img.width() >= 0.6 * w.canvas()->width() * dpr, qPrintable(QStringLiteral("%1 px").arg(img.width())));
    // Each cell has its value's colour; the 0 and the NaN are grey.
    // The pixel under a cell's centre (cellCenter is in canvas coordinates, the image covers mapRect).
    auto pixelAt = [&](int row, int ch) {
        const int sec = row >= 6 ? 1 : 0;
        const QImage im = w.sectionImage(sec);
        const QPointF off = QPointF(w.cellCenter(row, ch)) - w.mapRect(sec).topLeft();
        const QPoint px((off * dpr + QPointF(dpr / 2, dpr / 2)).toPoint());
        return QColor(im.pixel(std::clamp(px.x(), 0, im.width() - 1), std::clamp(px.y(), 0, im.height() - 1)));
    };
    QCOMPARE(pixelAt(3, 5), w.colorFor(40.0));
    QCOMPARE(pixelAt(2, 2), w.colorFor(rep->layers[4].activations.absMax[2]));
    QCOMPARE(pixelAt(6, 3), OutlierHeatmap::noValueColor());
    QCOMPARE(pixelAt(6, 4), OutlierHeatmap::noValueColor());
    QCOMPARE(pixelAt(7, 10), w.colorFor(rep->layers[13].activations.absMax[10]));
    // The top of the range appears exactly in the outlier's cell.
    QVERIFY(countColour(img, w.colorFor(40.0).rgb()) > 0);
}

void TestCharts::heatmapTooltipAndMarks() {
    auto rep = smallReport();
    OutlierHeatmap w;
    w.resize(600, 350);
    w.setReport(rep);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    // Rings: block 1's q/k/v row at channel 5, block 1's down row at channel 19.
    const auto marks = w.outlierMarks();
    QCOMPARE(int(marks.size()), 2);
    QCOMPARE(marks[0], std::make_pair(3, 5));
    QCOMPARE(marks[1], std::make_pair(7, 19));

    const QString t = w.toolTipAt(w.cellCenter(3, 5));
    QVERIFY2(t.contains(QStringLiteral("1.q/k/v")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("model.layers.1.self_attn.q_proj")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("channel 5 of 8")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("max |x| 40")), qPrintable(t));
    const auto& q1 = rep->layers[7];
    QVERIFY2(t.contains(QStringLiteral("mean |x| %1").arg(QString::number(q1.activations.meanAbs[5], 'g', 3))), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("kurtosis %1").arg(QString::number(q1.activations.kurtosis[5], 'g', 3))), qPrintable(t));
    // Ratio to the layer's median channel (computed here from the vector).
    const double ratio = 40.0 / median(q1.activations.absMax);
    QVERIFY2(t.contains(QStringLiteral("%1× the layer's median").arg(ratio, 0, 'f', 2)), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("weight max |w|: q 0.06, k 0.12, v 0.18")), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("top outlier #1")), qPrintable(t));

    const QString t2 = w.toolTipAt(w.cellCenter(6, 4));
    QVERIFY2(t2.contains(QStringLiteral("channel 4 of 20")) && t2.contains(QStringLiteral("max |x| n/a")), qPrintable(t2));
    QVERIFY(!t2.contains(QStringLiteral("top outlier")));
    QVERIFY(w.toolTipAt(QPoint(1, 1)).isEmpty());  // over the labels

    // Weight statistic: one linear per row, its own weight value and ratio.
    w.setStatistic(OutlierHeatmap::WeightAbsMax);
    const QString t3 = w.toolTipAt(w.cellCenter(1, 7));
    const auto& k0 = rep->layers[1];
    QVERIFY2(t3.startsWith(QStringLiteral("0.k  (model.layers.0.self_attn.k_proj)")), qPrintable(t3));
    QVERIFY2(t3.contains(QStringLiteral("weight max |w| 0.16  (%1× the layer's median)")
                             .arg(k0.weights.absMax[7] / median(k0.weights.absMax), 0, 'f', 2)),
             qPrintable(t3));
    // Every cell's tooltip names its own row and channel.
    for (int r = 0; r < w.rowCount(); ++r)
        for (int c = 0; c < w.rowChannels(r); c += 3) {
            const QString tt = w.toolTipAt(w.cellCenter(r, c));
            QVERIFY2(tt.startsWith(w.rowLabel(r) + QStringLiteral("  (")) &&
                         tt.contains(QStringLiteral("channel %1 of %2").arg(c).arg(w.rowChannels(r))),
                     qPrintable(tt));
        }
}

void TestCharts::heatmapMaxPooling() {
    // 3000 channels in ~450 px: each pixel covers several channels and shows the largest.
    auto rep = std::make_shared<SensitivityReport>();
    LayerSensitivity l;
    l.name = "model.layers.0.mlp.down_proj";
    l.kind = "down";
    l.inFeatures = 3000;
    std::vector<float> v(3000, 1.0f);
    v[1234] = 100.0f;
    setStats(l.activations, v, 0.1f, 3.0f);
    rep->layers.push_back(l);
    OutlierHeatmap w;
    w.resize(600, 300);
    w.setReport(rep);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const QImage img = w.sectionImage(0);
    QVERIFY(img.width() < 3000);
    const int top = countColour(img, w.colorFor(100.0).rgb());
    QCOMPARE(top, img.height());  // exactly one column of device pixels
    const QString t = w.toolTipAt(w.cellCenter(0, 1234));
    QVERIFY2(t.contains(QStringLiteral("channel 1234 of 3000")) && t.contains(QStringLiteral("the largest is shown")),
             qPrintable(t));
}

void TestCharts::errorChartSeries() {
    std::vector<LayerResult> a = {layerResult("model.layers.0.self_attn.q_proj", 0, 2e-4, 3.5),
                                  layerResult("model.layers.0.mlp.down_proj", 0, 0.03, 3.5),
                                  layerResult("model.layers.1.self_attn.q_proj", 1, 5e-3, 3.5)};
    std::vector<LayerResult> b = {layerResult("model.layers.0.self_attn.q_proj", 0, 1e-4 * 1.5, 4.5, "int4-g32"),
                                  layerResult("model.layers.0.mlp.down_proj", 0, 0.01, 4.5, "int4-g32"),
                                  layerResult("model.layers.1.self_attn.q_proj", 1, 1e-3, 4.5, "int4-g32"),
                                  layerResult("lm_head", -1, 2e-3, 8.25, "int8-g128")};
    const auto sa = LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ int3-g32"), a);
    QCOMPARE(sa.layers.size(), size_t(3));
    QCOMPARE(sa.layers[1].shortName, QStringLiteral("0.down"));
    QCOMPARE(sa.layers[1].format, QStringLiteral("gptq int3-g32"));
    QCOMPARE(sa.layers[1].bits, 3.5);

    LayerErrorChart chart;
    chart.resize(600, 350);
    chart.setSeries({sa, LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ int4-g32"), b)});
    QCOMPARE(chart.barSetCount(), 2);
    QCOMPARE(chart.categories(), (QStringList{"0.q", "0.down", "1.q", "lm_head"}));
    QCOMPARE(chart.errors(0)[1], 0.03);
    QVERIFY(std::isnan(chart.errors(0)[3]));  // run A has no lm_head
    QCOMPARE(chart.errors(1)[0], 1.5e-4);
    // Log axis over whole decades around the data: 1.5e-4 .. 0.03 -> 1e-4 .. 0.1.
    QVERIFY(nearDecade(chart.errorAxisRange().first, 1e-4));
    QVERIFY(nearDecade(chart.errorAxisRange().second, 0.1));
    QVERIFY(chart.errorAxisTitle().contains(QStringLiteral("relative output error"), Qt::CaseInsensitive));
    QVERIFY(chart.chart()->title().contains(QStringLiteral("tr(ΔW H ΔWᵀ) / tr(W H Wᵀ)")));
    QCOMPARE(chart.barSetValues(0)[3], chart.errorAxisRange().first);  // absent: zero-height bar
    QVERIFY(chart.note().isEmpty());  // a layer missing from a run is not an unmeasured error
    // Bits differ: one dashed line per run, the legend names the runs only.
    QCOMPARE(chart.bitsLineCount(), 2);
    QCOMPARE(chart.bitsLine(0).mid(0, 3), (QList<double>{3.5, 3.5, 3.5}));
    QVERIFY(std::isnan(chart.bitsLine(0)[3]));
    QCOMPARE(chart.bitsLine(1).mid(0, 3), (QList<double>{4.5, 4.5, 4.5}));
    QCOMPARE(chart.bitsLine(1)[3], 8.25);
    QCOMPARE(chart.legendLabels(), (QStringList{"GPTQ int3-g32", "GPTQ int4-g32"}));
    QCOMPARE(chart.bitsAxisRange().first, 0.0);
    QCOMPARE(chart.bitsAxisRange().second, 10.0);  // ceil(8.25 + 1)
    savePng(&chart, QStringLiteral("error_chart_two_runs_small"));

    // Same bits in every run: one line, in the legend.
    std::vector<LayerResult> c = a;
    for (auto& r : c) r.relOutputError *= 2;
    chart.setSeries({sa, LayerErrorSeries::fromLayerResults(QStringLiteral("RTN"), c)});
    QCOMPARE(chart.bitsLineCount(), 1);
    QCOMPARE(chart.bitsLine(0), (QList<double>{3.5, 3.5, 3.5}));
    QCOMPARE(chart.legendLabels().size(), 3);
    QVERIFY(chart.legendLabels().last().contains(QStringLiteral("Bits per weight")));
    QCOMPARE(chart.bitsAxisRange().second, 9.0);  // at least 0..9, as the sensitivity chart
    QCOMPARE(chart.bitsAxisRange().first, 0.0);

    // One run: its bars and its bits line; addSeries appends.
    chart.setSeries({sa});
    QCOMPARE(chart.barSetCount(), 1);
    QCOMPARE(chart.legendLabels(), (QStringList{"GPTQ int3-g32", "Bits per weight, incl. scales (right axis)"}));
    chart.addSeries(LayerErrorSeries::fromLayerResults(QStringLiteral("B"), b));
    QCOMPARE(chart.barSetCount(), 2);
}

void TestCharts::errorChartAbsentAndEmpty() {
    LayerErrorChart chart;
    chart.resize(600, 350);
    QCOMPARE(chart.barSetCount(), 0);
    QVERIFY(chart.categories().isEmpty());
    QVERIFY(chart.chart()->title().contains(QStringLiteral("no run selected")));
    QVERIFY(chart.note().isEmpty());
    QVERIFY(!chart.grab().isNull());

    // NaN, 0 and inf errors: no bar, a note; the axis covers only the finite positive values.
    std::vector<LayerResult> a = {layerResult("model.layers.0.self_attn.q_proj", 0, kNaN, 3.5),
                                  layerResult("model.layers.0.mlp.down_proj", 0, 0.0, 3.5),
                                  layerResult("model.layers.1.self_attn.q_proj", 1, 0.002, 3.5),
                                  layerResult("model.layers.1.mlp.down_proj", 1, std::numeric_limits<double>::infinity(), 3.5)};
    chart.setSeries({LayerErrorSeries::fromLayerResults(QStringLiteral("A"), a)});
    QVERIFY2(chart.note().contains(QStringLiteral("3 of 4 layers")), qPrintable(chart.note()));
    QVERIFY(nearDecade(chart.errorAxisRange().first, 1e-3));
    QVERIFY(nearDecade(chart.errorAxisRange().second, 1e-2));
    const QList<double> bars = chart.barSetValues(0);
    QCOMPARE(bars[0], chart.errorAxisRange().first);
    QCOMPARE(bars[1], chart.errorAxisRange().first);
    QCOMPARE(bars[2], 0.002);
    QCOMPARE(bars[3], chart.errorAxisRange().first);
    for (double v : bars) QVERIFY(std::isfinite(v) && v > 0);

    // A run without calibration (all NaN) next to a calibrated one.
    std::vector<LayerResult> rtn = a;
    for (auto& r : rtn) r.relOutputError = kNaN;
    std::vector<LayerResult> ok = a;
    for (int i = 0; i < int(ok.size()); ++i) ok[i].relOutputError = std::pow(10.0, -1 - i);
    chart.setSeries({LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ"), ok),
                     LayerErrorSeries::fromLayerResults(QStringLiteral("RTN, no calibration"), rtn)});
    QVERIFY2(chart.note().contains(QStringLiteral("all 4 layers of \"RTN, no calibration\"")), qPrintable(chart.note()));
    QVERIFY(!chart.note().contains(QStringLiteral("\"GPTQ\"")));
    QCOMPARE(chart.legendLabels(), (QStringList{"GPTQ", "RTN, no calibration (no error measured)",
                                                "Bits per weight, incl. scales (right axis; same in every run)"}));
    // 1e-4 lies on a decade: one more decade below, so its bar has a height.
    QVERIFY(nearDecade(chart.errorAxisRange().first, 1e-5));
    QVERIFY(nearDecade(chart.errorAxisRange().second, 0.1));

    // Nothing measured anywhere: a default decade range, still a valid log axis.
    chart.setSeries({LayerErrorSeries::fromLayerResults(QStringLiteral("RTN"), rtn)});
    QVERIFY(chart.errorAxisRange().first > 0 && chart.errorAxisRange().second > chart.errorAxisRange().first);
    QCOMPARE(chart.barSetCount(), 1);

    chart.clear();
    QCOMPARE(chart.barSetCount(), 0);
    QCOMPARE(chart.bitsLineCount(), 0);
}

void TestCharts::errorChartFromStoreRows() {
    std::vector<LayerResultRow> rows(3);
    rows[0].layerName = QStringLiteral("model.layers.0.self_attn.v_proj");
    rows[0].block = 0;
    rows[0].method = QStringLiteral("rtn");
    rows[0].format = QStringLiteral("int4-g32");
    rows[0].bitsPerWeight = 4.625;
    rows[0].outputError = 0.004;
    rows[1] = rows[0];
    rows[1].layerName = QStringLiteral("model.layers.0.mlp.up_proj");
    rows[1].outputError.reset();
    rows[2] = rows[0];
    rows[2].layerName = QStringLiteral("model.layers.1.mlp.gate_proj");
    rows[2].block = 1;
    rows[2].outputError = 0.02;
    const auto s = LayerErrorSeries::fromLayerResultRows(QStringLiteral("run 7"), rows);
    QCOMPARE(s.label, QStringLiteral("run 7"));
    QCOMPARE(s.layers.size(), size_t(3));
    QCOMPARE(s.layers[0].shortName, QStringLiteral("0.v"));
    QCOMPARE(s.layers[2].shortName, QStringLiteral("1.gate"));
    QCOMPARE(s.layers[0].format, QStringLiteral("rtn int4-g32"));
    QCOMPARE(s.layers[0].error, 0.004);
    QVERIFY(std::isnan(s.layers[1].error));
    QCOMPARE(s.layers[2].bits, 4.625);

    LayerErrorChart chart;
    chart.setSeries({s});
    QCOMPARE(chart.categories(), (QStringList{"0.v", "0.up", "1.gate"}));
    QVERIFY(chart.note().contains(QStringLiteral("1 of 3 layers")));
    QVERIFY(nearDecade(chart.errorAxisRange().first, 1e-3));
    QVERIFY(nearDecade(chart.errorAxisRange().second, 0.1));
}

void TestCharts::errorChartLabels() {
    // A few layers: every label, horizontal. A 32-block model (224 linears) in 600 px:
    // every k-th label, rotated, never overlapping.
    auto series = [](int blocks) {
        std::vector<LayerResult> v;
        for (int blk = 0; blk < blocks; ++blk)
            for (int k = 0; k < 7; ++k)
                v.push_back(layerResult("model.layers." + std::to_string(blk) + "." + kLinearNames[k], blk,
                                        1e-3 * (1 + k), 3.5));
        return LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ"), v);
    };
    LayerErrorChart chart;
    chart.resize(600, 350);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    std::vector<LayerResult> few = {layerResult("model.layers.0.self_attn.q_proj", 0, 1e-3, 3.5),
                                    layerResult("model.layers.0.mlp.down_proj", 0, 2e-3, 3.5)};
    chart.setSeries({LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ"), few)});
    QTest::qWait(20);
    QCOMPARE(chart.categoryLabels(), (QStringList{"0.q", "0.down"}));
    QCOMPARE(chart.chart()->axes(Qt::Horizontal).front()->labelsAngle(), 0);

    chart.setSeries({series(32)});
    QTest::qWait(20);
    QCOMPARE(chart.categories().size(), 224);
    const QStringList labels = chart.categoryLabels();
    QVERIFY2(labels.size() > 5 && labels.size() < 224, qPrintable(QString::number(labels.size())));
    const int stride = int(std::ceil(224.0 / labels.size()));
    for (int i = 0; i < labels.size(); ++i) QCOMPARE(labels[i], chart.categories()[i * stride]);
    QAbstractAxis* x = chart.chart()->axes(Qt::Horizontal).front();
    QCOMPARE(x->labelsAngle(), -90);
    const qreal gap = chart.chart()->plotArea().width() / 224 * stride;
    QVERIFY2(gap >= QFontMetricsF(x->labelsFont()).height(), qPrintable(QString::number(gap)));
    savePng(&chart, QStringLiteral("error_chart_224_layers"));
}

void TestCharts::screenshots() {
    // The hand-made report at the size the main window gives a chart at 1280×800, and larger.
    OutlierHeatmap w;
    w.setReport(smallReport());
    w.resize(600, 350);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    savePng(&w, QStringLiteral("heatmap_small_report"));
    w.setStatistic(OutlierHeatmap::WeightAbsMax);
    savePng(&w, QStringLiteral("heatmap_small_report_weights"));

    OutlierHeatmap empty;
    empty.resize(600, 350);
    savePng(&empty, QStringLiteral("heatmap_empty"));

    std::vector<LayerResult> a, b;
    for (int blk = 0; blk < 4; ++blk)
        for (int k = 0; k < 7; ++k) {
            const std::string name = "model.layers." + std::to_string(blk) + "." + kLinearNames[k];
            const double e = std::pow(10.0, -3.0 + 0.25 * k + 0.1 * blk);
            a.push_back(layerResult(name, blk, e, k == 6 ? 4.5 : 3.5, k == 6 ? "int4-g32" : "int3-g32"));
            b.push_back(layerResult(name, blk, (blk == 2 && k == 1) ? kNaN : e * 0.12, 4.5, "int4-g32"));
        }
    LayerErrorChart chart;
    chart.resize(600, 350);
    chart.setSeries({LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ mixed 3/4 bit"), a),
                     LayerErrorSeries::fromLayerResults(QStringLiteral("GPTQ int4-g32"), b)});
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    savePng(&chart, QStringLiteral("error_chart_synthetic"));
}

void TestCharts::realReportAndRuns() {
    // QS_CHARTS_REPORT=FILE: also render that report (e.g. one of a larger model) for a look.
    if (const QString extra = qEnvironmentVariable("QS_CHARTS_REPORT"); !extra.isEmpty()) {
        OutlierHeatmap w;
        w.setReport(std::make_shared<const SensitivityReport>(SensitivityReport::load(extra)));
        w.resize(600, 350);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        savePng(&w, QStringLiteral("heatmap_extra_report"));
        w.setStatistic(OutlierHeatmap::WeightAbsMax);
        savePng(&w, QStringLiteral("heatmap_extra_report_weights"));
    }
    QS_REQUIRE_SHARED(shared);
    const QString model = shared + QStringLiteral("/models/stories260K/stories260K.bin");
    const QString text = shared + QStringLiteral("/data/tinystories/valid-slice.txt");
    if (!QFileInfo::exists(model) || !QFileInfo::exists(text)) QSKIP("stories260K or the TinyStories slice is absent");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString reportPath = tmp.filePath(QStringLiteral("report.json"));
    const QString db = tmp.filePath(QStringLiteral("runs.sqlite"));
    auto cli = qs::test::runCli({"sensitivity", "--model", model, "--calib", text, "--nsamples", "16", "--seqlen", "256",
                                 "--block-error-tokens", "0", "--out", reportPath, "--no-db"});
    QVERIFY2(cli.code == 0, cli.err.constData());
    auto report = std::make_shared<const SensitivityReport>(SensitivityReport::load(reportPath));
    QCOMPARE(int(report->layers.size()), 35);

    OutlierHeatmap w;
    w.setReport(report);
    w.resize(600, 350);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.hint().isEmpty());
    QCOMPARE(w.sectionCount(), 2);  // 64 (hidden) and 172 (intermediate) input channels
    // Every top outlier of the report is ringed, and its tooltip gives core's ratio.
    QCOMPARE(int(w.outlierMarks().size()), int(report->topOutliers.size()));
    const auto& top = report->topOutliers.front();
    const auto [row, ch] = w.outlierMarks().front();
    QVERIFY(w.rowLayers(row).contains(QString::fromStdString(top.layer)));
    QCOMPARE(ch, top.channel);
    QCOMPARE(w.value(row, ch), top.absMax);
    const QString t = w.toolTipAt(w.cellCenter(row, ch));
    QVERIFY2(t.contains(QStringLiteral("%1× the layer's median").arg(top.ratioToMedian, 0, 'f', 2)), qPrintable(t));
    QVERIFY2(t.contains(QStringLiteral("top outlier #1")), qPrintable(t));
    QCOMPARE(w.colorRange().second, top.absMax);
    savePng(&w, QStringLiteral("heatmap_stories260K_absmax"));
    w.setStatistic(OutlierHeatmap::ActivationKurtosis);
    savePng(&w, QStringLiteral("heatmap_stories260K_kurtosis"));
    w.setStatistic(OutlierHeatmap::WeightAbsMax);
    savePng(&w, QStringLiteral("heatmap_stories260K_weights"));
    w.setStatistic(OutlierHeatmap::ActivationAbsMax);
    w.setHiddenStateOnly(true);
    savePng(&w, QStringLiteral("heatmap_stories260K_hidden_only"));
    w.setHiddenStateOnly(false);
    w.resize(1000, 600);
    savePng(&w, QStringLiteral("heatmap_stories260K_large"));

    // Two runs logged by the CLI, read back from the log.
    cli = qs::test::runCli({"quantize", "--model", model, "--calib", text, "--nsamples", "16", "--seqlen", "256", "--method",
                            "gptq", "--wbits", "3", "--group", "32", "--db", db, "--json"});
    QVERIFY2(cli.code == 0, cli.err.constData());
    cli = qs::test::runCli({"quantize", "--model", model, "--method", "rtn", "--wbits", "4", "--group", "32", "--db", db, "--json"});
    QVERIFY2(cli.code == 0, cli.err.constData());
    std::vector<LayerErrorSeries> series;
    {
        ExperimentStore store(db);
        auto runs = store.listRuns();
        QCOMPARE(int(runs.size()), 2);
        std::reverse(runs.begin(), runs.end());  // oldest first
        for (const auto& r : runs) {
            const auto full = store.run(r.id);
            QVERIFY(full);
            QCOMPARE(int(full->layers.size()), 35);
            series.push_back(LayerErrorSeries::fromLayerResultRows(
                QStringLiteral("run %1: %2").arg(r.id).arg(ExperimentStore::recipeSummary(full->recipe)), full->layers));
        }
    }
    LayerErrorChart chart;
    chart.resize(600, 350);
    chart.setSeries({series[0]});
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    QCOMPARE(chart.categories().size(), 35);
    QCOMPARE(chart.categories().front(), QStringLiteral("0.q"));
    QVERIFY(chart.note().isEmpty());
    savePng(&chart, QStringLiteral("error_chart_stories260K_gptq"));
    chart.setSeries(series);
    QCOMPARE(chart.barSetCount(), 2);
    QVERIFY2(chart.note().contains(QStringLiteral("all 35 layers")), qPrintable(chart.note()));
    savePng(&chart, QStringLiteral("error_chart_stories260K_gptq_vs_rtn"));
}

QTEST_MAIN(TestCharts)
#include "test_charts.moc"
