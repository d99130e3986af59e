// Tests of views/ and the main window (offscreen): the layer table model (rows,
// edits through setData, exact undo/redo, multi-row edits as one undo step,
// average bits and model size against an independent computation, recipe round
// trips), the bits delegate, the filter/sort proxy (numeric sort by sensitivity),
// the sensitivity chart, the main window's background jobs (load, analysis with
// progress and cancel, auto-assign as one undo step, recipe export/import, error
// reporting) and the --screenshot rendering.
#include <cmath>
#include <limits>
#include <set>

#include <QApplication>
#include <QClipboard>
#include <QSettings>
#include <QComboBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMimeData>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableView>
#include <QToolBar>
#include <QTemporaryDir>
#include <QtTest>

#include "alloc/allocate.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "export/gguf.h"
#include "export_dialog.h"
#include "bits_delegate.h"
#include "chart_util.h"
#include "layer_proxy_model.h"
#include "layer_table_model.h"
#include "main_window.h"
#include "model/demo.h"
#include "recipe/recipe.h"
#include "history_view.h"
#include "layer_error_chart.h"
#include "outlier_heatmap.h"
#include "job_panel.h"
#include "perplexity_chart.h"
#include "sensitivity_chart.h"
#include "settings.h"
#include "store/store.h"
#include "testutil.h"

using namespace qs;
using qs::views::LayerTableModel;

namespace {

const Demo& demo() {
    static Demo d = makeDemo(DemoOptions{.sampleWindows = 2});
    return d;
}

QuantFormat fmt(const char* name) { return *QuantFormat::parse(name); }

/// Storage bits per weight computed from first principles (not with
/// QuantFormat::bitsPerWeight): integer grids store `bits` per weight plus, per
/// group of G columns (a trailing partial group counts whole), an fp16 scale and,
/// when asymmetric, a `bits`-wide zero point; MX formats store the element width
/// plus one E8M0 byte per block of 32.
double expectedBpw(const QuantFormat& f, int64_t in) {
    if (f.isMx()) {
        const int64_t blocks = (in + 31) / 32;
        return (double(in) * f.bits + double(blocks) * 8.0) / double(in);
    }
    const int64_t g = f.groupSize > 0 ? f.groupSize : in;
    const int64_t groups = (in + g - 1) / g;
    const double perGroup = 16.0 + (f.symmetric ? 0.0 : double(f.bits));
    return (double(in) * f.bits + double(groups) * perGroup) / double(in);
}

std::vector<QJsonObject> allPlans(const LayerTableModel& t) {
    std::vector<QJsonObject> v;
    for (int r = 0; r < t.rowCount(); ++r) v.push_back(Recipe::planJson(t.row(r).plan));
    return v;
}

/// A synthetic report over the demo's layers: candidates int2-g128, int3-g32,
/// int3-g128, int4-g128; the block error of int3-g128 (the reference) is
/// `sens(i)`, int3-g32 gets a tenth of it (so picking the wrong 3-bit candidate
/// shows), the others scale with 4^(3-bits). Layers whose `sens` is NaN are left
/// out of the report.
SensitivityReport syntheticReport(const std::function<double(int)>& sens, bool blockErrors = true) {
    SensitivityReport rep;
    rep.options.candidates = {fmt("int2-g128"), fmt("int3-g32"), fmt("int3-g128"), fmt("int4-g128")};
    int i = 0;
    for (const Linear* l : demo().model->linears()) {
        const double s = sens(i++);
        if (std::isnan(s)) continue;
        LayerSensitivity ls;
        ls.name = l->name;
        ls.outFeatures = l->outFeatures;
        ls.inFeatures = l->inFeatures;
        ls.activations.outlierScore = 1.0 + i;
        for (const QuantFormat& f : rep.options.candidates) {
            CandidateCost c;
            c.format = f;
            c.bitsPerWeight = f.bitsPerWeight(l->inFeatures);
            double e = s * std::pow(4.0, 3 - f.bits);
            if (f.groupSize == 32) e *= 0.1;
            c.relPredictedError = 10 * e;  // distinguishable from the block error
            c.predictedError = 100 * e;
            c.blockError = blockErrors ? e : std::numeric_limits<double>::quiet_NaN();
            ls.candidates.push_back(c);
        }
        rep.layers.push_back(ls);
    }
    return rep;
}

gui::MainWindowOptions smallOptions() {
    gui::MainWindowOptions o;
    o.loadDemoAtStart = false;
    o.modalErrors = false;
    o.persistentSettings = false;
    o.databasePath = QString();  // no experiment log unless a test gives one (a shared log would restore analyses across tests)
    o.demo.sampleWindows = 2;
    o.demoCalib = CalibOptions{4, 128, 0};
    o.blockErrorTokens = 512;
    o.candidates = {fmt("int2-g128"), fmt("int3-g128"), fmt("int4-g128"), fmt("int8-g128")};
    return o;
}

}  // namespace

class TestViews : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void rowsAreTheQuantizableLinears();
    void setDataUndoRedoExact();
    void multiRowEditIsOneUndoStep();
    void averageBitsAndSize();
    void recipeRoundTrip();
    void importedRecipeWithMethodsAndUndo();
    void mgptqRowsShowTheirTargetAndBecomeGptqWhenSet();
    void setMethodsOnRows();
    void sensitivityColumnsFromReport();
    void delegateEditsThroughTheView();
    void proxySortsNumericallyAndFilters();
    void chartShowsSensitivityAndBits();
    void mainWindowJobs();
    void jobListModel();
    void perplexityChart();
    void mainWindowRunsFlow();
    void settingsRecentClipboardAndCancelledLoad();
    void exportModelFromTheWindow();
    void realModelAnalyseAssignRunExport();
    void analysisIsLoggedAndRestored();
    void screenshot();
};

void TestViews::rowsAreTheQuantizableLinears() {
    LayerTableModel t;
    QCOMPARE(t.rowCount(), 0);
    t.setModel(*demo().model);
    const auto lin = demo().model->linears();
    QCOMPARE(t.rowCount(), int(lin.size()));
    QCOMPARE(t.rowCount(), 42);  // 6 blocks × q, k, v, o, gate, up, down
    QCOMPARE(t.columnCount(), int(LayerTableModel::ColumnCount));
    for (int r = 0; r < t.rowCount(); ++r) {
        const Linear& l = *lin[size_t(r)];
        QCOMPARE(t.index(r, LayerTableModel::ColName).data().toString(), QString::fromStdString(l.name));
        QCOMPARE(t.index(r, LayerTableModel::ColShape).data().toString(), QStringLiteral("%1×%2").arg(l.outFeatures).arg(l.inFeatures));
        QCOMPARE(t.index(r, LayerTableModel::ColParams).data(LayerTableModel::SortRole).toDouble(), double(l.params()));
        QCOMPARE(t.index(r, LayerTableModel::ColFormat).data().toString(), QStringLiteral("int4-g128"));
        QCOMPARE(t.index(r, LayerTableModel::ColMethod).data().toString(), QStringLiteral("gptq"));
        // no analysis yet: the sensitivity columns are empty
        QVERIFY(!t.index(r, LayerTableModel::ColSensitivity).data().isValid());
        QVERIFY(!t.index(r, LayerTableModel::ColOutlier).data().isValid());
        QCOMPARE(bool(t.flags(t.index(r, LayerTableModel::ColFormat)) & Qt::ItemIsEditable), true);
        QCOMPARE(bool(t.flags(t.index(r, LayerTableModel::ColBits)) & Qt::ItemIsEditable), false);
    }
    QCOMPARE(t.index(7, LayerTableModel::ColBlock).data().toInt(), 1);
    for (int c = 0; c < t.columnCount(); ++c) {
        QVERIFY(!t.headerData(c, Qt::Horizontal).toString().isEmpty());
        QVERIFY(!t.headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString().isEmpty());
    }
}

void TestViews::setDataUndoRedoExact() {
    LayerTableModel t;
    t.setModel(*demo().model);
    const auto start = allPlans(t);
    QSignalSpy totals(&t, &LayerTableModel::totalsChanged);
    QSignalSpy changed(&t, &QAbstractItemModel::dataChanged);

    // the bits slider keeps what an exporter needs: -f16 scales, llama.cpp's grids at 8 and 4 bits
    QCOMPARE(LayerTableModel::withBits(fmt("int4-sym-g128-f16"), 3), fmt("int3-sym-g128-f16"));
    QCOMPARE(LayerTableModel::withBits(fmt("gguf_q4_0"), 8), fmt("gguf_q8_0"));
    QCOMPARE(LayerTableModel::withBits(fmt("gguf_q8_0"), 4), fmt("gguf_q4_0"));
    QCOMPARE(LayerTableModel::withBits(fmt("gguf_q4_1"), 4), fmt("gguf_q4_1"));
    QCOMPARE(LayerTableModel::withBits(fmt("gguf_q4_1"), 3), fmt("int3-g32"));
    QCOMPARE(LayerTableModel::withBits(fmt("mxfp4"), 3), fmt("int3-g32"));

    const QModelIndex i3 = t.index(3, LayerTableModel::ColFormat);
    QVERIFY(t.setData(i3, 3));  // bit width: group size kept
    QCOMPARE(t.format(3), fmt("int3-g128"));
    QCOMPARE(i3.data(Qt::EditRole).toInt(), 3);
    QCOMPARE(t.undoStack()->count(), 1);
    QCOMPARE(totals.size(), 1);
    QVERIFY(changed.size() >= 1);
    QVERIFY(t.setData(t.index(5, LayerTableModel::ColFormat), QStringLiteral("mxfp4")));  // a format name
    QCOMPARE(t.format(5), fmt("mxfp4"));
    QVERIFY(t.setData(t.index(5, LayerTableModel::ColFormat), 6));  // MX -> int with its block size
    QCOMPARE(t.format(5), fmt("int6-g32"));
    QVERIFY(t.setData(t.index(9, LayerTableModel::ColFormat), QStringLiteral("int2-sym-g64")));
    QVERIFY(t.setData(t.index(9, LayerTableModel::ColFormat), 5));  // symmetry and group kept
    QCOMPARE(t.format(9), fmt("int5-sym-g64"));
    QCOMPARE(t.undoStack()->count(), 5);
    const auto edited = allPlans(t);

    // rejected edits leave no undo step
    QVERIFY(!t.setData(t.index(3, LayerTableModel::ColFormat), 9));
    QVERIFY(!t.setData(t.index(3, LayerTableModel::ColFormat), 1));
    QVERIFY(!t.setData(t.index(3, LayerTableModel::ColFormat), QStringLiteral("int9")));
    QVERIFY(!t.setData(t.index(3, LayerTableModel::ColBits), 3));
    QVERIFY(!t.setData(t.index(3, LayerTableModel::ColFormat), 3, Qt::DisplayRole));
    QVERIFY(t.setData(t.index(3, LayerTableModel::ColFormat), 3));  // unchanged: accepted, no step
    QCOMPARE(t.undoStack()->count(), 5);

    const double editedBits = t.averageBits();
    while (t.undoStack()->canUndo()) t.undoStack()->undo();
    QCOMPARE(allPlans(t), start);
    QCOMPARE(t.format(3), fmt("int4-g128"));
    LayerTableModel fresh;
    fresh.setModel(*demo().model);
    QCOMPARE(t.averageBits(), fresh.averageBits());
    while (t.undoStack()->canRedo()) t.undoStack()->redo();
    QCOMPARE(allPlans(t), edited);
    QCOMPARE(t.averageBits(), editedBits);
    // the last signal carries the live totals
    const QList<QVariant> last = totals.last();
    QCOMPARE(last.at(0).toDouble(), t.averageBits());
    QCOMPARE(last.at(1).toDouble(), t.sizeMB());
}

void TestViews::multiRowEditIsOneUndoStep() {
    LayerTableModel t;
    t.setModel(*demo().model);
    const auto start = allPlans(t);
    QVERIFY(t.setFormats({0, 3, 5, 40}, fmt("int2-g64")));
    QCOMPARE(t.undoStack()->count(), 1);
    for (int r : {0, 3, 5, 40}) QCOMPARE(t.format(r), fmt("int2-g64"));
    QCOMPARE(t.format(1), fmt("int4-g128"));
    // rows already at the format do not count; nothing changing pushes nothing
    QVERIFY(t.setFormats({0, 3}, fmt("int2-g64")));
    QCOMPARE(t.undoStack()->count(), 1);
    QVERIFY(!t.setFormats({0, 99}, fmt("int3")));
    QVERIFY(!t.setFormats({0}, QuantFormat{FormatKind::None, 0, false, 0}));
    QCOMPARE(t.undoStack()->count(), 1);
    // per-row formats (what auto-assign applies) are one step too
    QVERIFY(t.setFormatsPerRow({{1, fmt("int3-g32")}, {2, fmt("int8-g128")}, {3, fmt("mxint4")}}, QStringLiteral("alloc")));
    QCOMPARE(t.undoStack()->count(), 2);
    QCOMPARE(t.undoStack()->undoText(), QStringLiteral("alloc"));
    t.undoStack()->undo();
    QCOMPARE(t.format(1), fmt("int4-g128"));
    QCOMPARE(t.format(3), fmt("int2-g64"));
    t.undoStack()->undo();
    QCOMPARE(allPlans(t), start);
}

void TestViews::averageBitsAndSize() {
    const Model& m = *demo().model;
    LayerTableModel t;
    t.setModel(m);
    const char* names[] = {"int2-g32", "int3-g128", "int4", "mxfp4", "int8-sym-g64", "int5-g100", "mxfp6_e3m2"};
    std::vector<std::pair<int, QuantFormat>> ch;
    for (int r = 0; r < t.rowCount(); ++r) ch.emplace_back(r, fmt(names[r % 7]));
    QVERIFY(t.setFormatsPerRow(ch, QStringLiteral("mixed")));

    double bits = 0;
    int64_t params = 0;
    int r = 0;
    for (const Linear* l : m.linears()) {
        bits += double(l->outFeatures * l->inFeatures) * expectedBpw(fmt(names[r++ % 7]), l->inFeatures);
        params += l->outFeatures * l->inFeatures;
    }
    QCOMPARE(t.linearParams(), params);
    QVERIFY2(std::fabs(t.averageBits() - bits / double(params)) < 1e-12,
             qPrintable(QStringLiteral("%1 vs %2").arg(t.averageBits(), 0, 'g', 17).arg(bits / double(params), 0, 'g', 17)));
    // everything that is not a block linear, from the configuration: the
    // embedding table (and an untied lm_head), two RMSNorms per block and the
    // final norm (the demo has no biases)
    const ModelConfig& c = m.config;
    const int64_t other = int64_t(c.vocabSize) * c.hiddenSize * (c.tiedEmbeddings ? 1 : 2) +
                          int64_t(c.hiddenSize) * (2 * c.numLayers + 1);
    QCOMPARE(t.otherParams(), other);
    QVERIFY(std::fabs(t.sizeMB() - (bits / 8.0 + 2.0 * double(other)) / 1e6) < 1e-9);
    QVERIFY(std::fabs(t.fp16SizeMB() - 2.0 * double(params + other) / 1e6) < 1e-9);
    // the bits column shows the same per-row value
    QCOMPARE(t.index(3, LayerTableModel::ColBits).data(LayerTableModel::SortRole).toDouble(), t.bitsPerWeight(3));
    QCOMPARE(t.index(3, LayerTableModel::ColBits).data().toString(), QString::number(expectedBpw(fmt("mxfp4"), m.linears()[3]->inFeatures), 'f', 3));
    // back to the uniform int4-g128 start
    t.undoStack()->undo();
    double u = 0;
    for (const Linear* l : m.linears()) u += double(l->params()) * expectedBpw(fmt("int4-g128"), l->inFeatures);
    QVERIFY(std::fabs(t.averageBits() - u / double(params)) < 1e-12);
    QVERIFY(t.averageBits() > 4.15625);  // down_proj's 688 columns: the trailing partial group costs a whole scale
}

void TestViews::recipeRoundTrip() {
    const Model& m = *demo().model;
    LayerTableModel t;
    t.setModel(m);
    const char* names[] = {"int2-g32", "int3-g128", "int3-g128", "mxfp4", "int8-sym-g64", "int3-g128"};
    std::vector<std::pair<int, QuantFormat>> ch;
    for (int r = 0; r < t.rowCount(); ++r) ch.emplace_back(r, fmt(names[(r * 5) % 6]));
    QVERIFY(t.setFormatsPerRow(ch, QStringLiteral("mixed")));

    const Recipe rec = t.toRecipe();
    const QJsonObject j = rec.toJson();
    // defaults: the format covering most parameters; overrides: exact names of the others
    QCOMPARE(j.value(QStringLiteral("defaults")).toObject().value(QStringLiteral("wformat")).toString(), QStringLiteral("int3-g128"));
    int differing = 0;
    for (int r = 0; r < t.rowCount(); ++r) differing += t.format(r) != fmt("int3-g128");
    const QJsonArray layers = j.value(QStringLiteral("layers")).toArray();
    QCOMPARE(layers.size(), differing);
    for (const QJsonValue& v : layers) {
        const QJsonObject e = v.toObject();
        QVERIFY(t.rowOf(e.value(QStringLiteral("match")).toString().toStdString()) >= 0);
        QCOMPARE(e.keys(), (QStringList{QStringLiteral("match"), QStringLiteral("wformat")}));
    }
    // the written bytes parse back and give a new table the same formats
    const Recipe back = Recipe::parse(rec.toJsonBytes(), QStringLiteral("round trip"));
    LayerTableModel t2;
    t2.setModel(m);
    t2.applyRecipe(back, QStringLiteral("import"));
    for (int r = 0; r < t.rowCount(); ++r) {
        QCOMPARE(t2.format(r), t.format(r));
        QCOMPARE(Recipe::planJson(back.planFor(t.row(r).name)), Recipe::planJson(t.row(r).plan));
    }
    QCOMPARE(allPlans(t2), allPlans(t));
    QCOMPARE(t2.averageBits(), t.averageBits());
    QCOMPARE(t2.toRecipe(), rec);
    // the quantization pipeline plans the same formats from it
    const PlanFn pf = back.planFn();
    int r = 0;
    for (const Linear* l : m.linears()) QCOMPARE(pf(*l).weight, t.format(r++));
}

void TestViews::mgptqRowsShowTheirTargetAndBecomeGptqWhenSet() {
    // an MG-PTQ layer (widths per column group): the format column names its target,
    // the bits column the level it reaches; giving it one format makes it GPTQ on
    // that format (its AWQ step kept), one undo step back to MG-PTQ
    const Model& m = *demo().model;
    LayerTableModel t;
    t.setModel(m);
    const Recipe r = Recipe::parse(QJsonDocument(QJsonObject{
        {QStringLiteral("quantscope_recipe"), 1},
        {QStringLiteral("defaults"), QJsonObject{{QStringLiteral("method"), QStringLiteral("gptq")}, {QStringLiteral("wformat"), QStringLiteral("int4-g128")}}},
        {QStringLiteral("layers"), QJsonArray{QJsonObject{{QStringLiteral("match"), QStringLiteral("*.mlp.up_proj")},
                                                          {QStringLiteral("method"), QStringLiteral("awq+mgptq")},
                                                          {QStringLiteral("wformat"), QStringLiteral("int2-g64")},
                                                          {QStringLiteral("mgptq_bits"), 2.6}}}},
    }).toJson(), QStringLiteral("mgptq recipe"));
    t.applyRecipe(r, QStringLiteral("import"));
    const int up = t.rowOf("model.layers.1.mlp.up_proj");
    QCOMPARE(t.index(up, LayerTableModel::ColMethod).data().toString(), QStringLiteral("awq+mgptq"));
    const QString shown = t.index(up, LayerTableModel::ColFormat).data().toString();
    QVERIFY2(shown.startsWith(QStringLiteral("mgptq <= 2.6 b")) && shown.endsWith(QStringLiteral("g64")), qPrintable(shown));
    const double mixedBits = t.bitsPerWeight(up);
    QVERIFY2(mixedBits > 2.0 && mixedBits <= 2.6, qPrintable(QString::number(mixedBits)));
    // the delegate's edit: 4 bits, group kept
    QVERIFY(t.setData(t.index(up, LayerTableModel::ColFormat), 4));
    QCOMPARE(t.index(up, LayerTableModel::ColMethod).data().toString(), QStringLiteral("awq+gptq"));
    QCOMPARE(t.format(up), fmt("int4-g64"));
    QCOMPARE(t.bitsPerWeight(up), fmt("int4-g64").bitsPerWeight(t.row(up).inFeatures));
    QCOMPARE(t.toRecipe().planFor("model.layers.1.mlp.up_proj").mgptq.targetBits, 0.0);
    t.undoStack()->undo();
    QCOMPARE(t.index(up, LayerTableModel::ColMethod).data().toString(), QStringLiteral("awq+mgptq"));
    QCOMPARE(t.bitsPerWeight(up), mixedBits);
}

void TestViews::setMethodsOnRows() {
    // the method of several rows, formats kept, one undo step each
    LayerTableModel t;
    t.setModel(*demo().model);
    const auto start = allPlans(t);
    const int q0 = t.rowOf("model.layers.0.self_attn.q_proj"), up1 = t.rowOf("model.layers.1.mlp.up_proj");
    QVERIFY(t.setFormats({up1}, fmt("int3-g128")));
    QCOMPARE(t.setMethods({q0, up1}, QStringLiteral("boa")), QString());
    QCOMPARE(t.index(q0, LayerTableModel::ColMethod).data().toString(), QStringLiteral("boa"));
    QCOMPARE(t.format(q0), fmt("int4-g128"));
    QCOMPARE(t.setMethods({q0}, QStringLiteral("awq+gptq")), QString());
    QCOMPARE(t.index(q0, LayerTableModel::ColMethod).data().toString(), QStringLiteral("awq+gptq"));
    QVERIFY(t.row(q0).plan.awq);
    // MG-PTQ: the row's current size as the target, widths mixed per group of its format
    const double bits = t.bitsPerWeight(up1);
    QCOMPARE(t.setMethods({up1}, QStringLiteral("mgptq")), QString());
    QCOMPARE(t.row(up1).plan.method, QuantMethod::Mgptq);
    QCOMPARE(t.row(up1).plan.mgptq.targetBits, bits);
    QVERIFY(t.bitsPerWeight(up1) <= bits + 1e-12);
    QVERIFY(t.index(up1, LayerTableModel::ColFormat).data().toString().startsWith(QStringLiteral("mgptq <= ")));
    QVERIFY(mgptqPlanError(t.row(up1).plan, t.row(up1).inFeatures).empty());
    // per-channel formats have no groups to mix: int<bits>-g64 first
    QVERIFY(t.setFormats({q0}, fmt("int3")));
    QCOMPARE(t.setMethods({q0}, QStringLiteral("mgptq")), QString());
    QCOMPARE(t.row(q0).plan.weight.groupSize, 64);
    // float, then an unknown method: a message, nothing changed
    QCOMPARE(t.setMethods({q0}, QStringLiteral("none")), QString());
    QCOMPARE(t.bitsPerWeight(q0), 16.0);
    const int steps = t.undoStack()->count();
    const QString err = t.setMethods({q0, up1}, QStringLiteral("gptq+awq"));
    QVERIFY2(err.contains(QStringLiteral("out of order")), qPrintable(err));
    QCOMPARE(t.undoStack()->count(), steps);
    QVERIFY(!t.setMethods({q0}, QStringLiteral("qat")).isEmpty());
    while (t.undoStack()->canUndo()) t.undoStack()->undo();
    QCOMPARE(allPlans(t), start);
}

void TestViews::importedRecipeWithMethodsAndUndo() {
    const Model& m = *demo().model;
    LayerTableModel t;
    t.setModel(m);
    const auto start = allPlans(t);
    const Recipe r = Recipe::parse(QJsonDocument(QJsonObject{
        {QStringLiteral("quantscope_recipe"), 1},
        {QStringLiteral("description"), QStringLiteral("mixed methods")},
        {QStringLiteral("calibration"), QJsonObject{{QStringLiteral("nsamples"), 16}, {QStringLiteral("seqlen"), 256}}},
        {QStringLiteral("defaults"), QJsonObject{{QStringLiteral("method"), QStringLiteral("rtn")}, {QStringLiteral("wformat"), QStringLiteral("int4")}}},
        {QStringLiteral("lm_head"), QJsonObject{{QStringLiteral("method"), QStringLiteral("rtn")}, {QStringLiteral("wformat"), QStringLiteral("int8-g128")}}},
        {QStringLiteral("layers"), QJsonArray{
            QJsonObject{{QStringLiteral("match"), QStringLiteral("*.mlp.down_proj")}, {QStringLiteral("method"), QStringLiteral("gptq")},
                        {QStringLiteral("wformat"), QStringLiteral("int8-g128")}, {QStringLiteral("act_order"), true}},
            QJsonObject{{QStringLiteral("regex"), QStringLiteral("q_proj$")}, {QStringLiteral("aformat"), QStringLiteral("int8")}},
            QJsonObject{{QStringLiteral("match"), QStringLiteral("model.layers.0.self_attn.*")}, {QStringLiteral("method"), QStringLiteral("none")}},
        }},
    }).toJson(), QStringLiteral("test recipe"));
    t.applyRecipe(r, QStringLiteral("import"));
    QCOMPARE(t.undoStack()->count(), 1);
    const int down = t.rowOf("model.layers.2.mlp.down_proj"), q = t.rowOf("model.layers.3.self_attn.q_proj"),
              v0 = t.rowOf("model.layers.0.self_attn.v_proj");
    QCOMPARE(t.index(down, LayerTableModel::ColMethod).data().toString(), QStringLiteral("gptq"));
    QCOMPARE(t.format(down), fmt("int8-g128"));
    QCOMPARE(t.row(down).plan.gptq.actOrder, true);
    QCOMPARE(t.index(q, LayerTableModel::ColActivation).data().toString(), QStringLiteral("int8"));
    QCOMPARE(t.index(v0, LayerTableModel::ColMethod).data().toString(), QStringLiteral("none"));
    QCOMPARE(t.bitsPerWeight(v0), 16.0);  // float rows count as fp16
    // table -> recipe -> table keeps every plan (float rows: the method; their format is moot)
    const Recipe back = Recipe::parse(t.toRecipe().toJsonBytes());
    QCOMPARE(back.description(), QStringLiteral("mixed methods"));
    QCOMPARE(back.calibNsamples().value_or(0), 16);
    QVERIFY(back.outerPlans().lmHead.has_value());
    for (int i = 0; i < t.rowCount(); ++i) {
        const LayerPlan p = back.planFor(t.row(i).name);
        if (t.row(i).plan.method == QuantMethod::None) {
            QCOMPARE(p.method, QuantMethod::None);
            QJsonObject got = Recipe::planJson(p), want = Recipe::planJson(t.row(i).plan);
            got.remove(QStringLiteral("wformat"));
            want.remove(QStringLiteral("wformat"));
            QCOMPARE(got, want);
        } else {
            QCOMPARE(Recipe::planJson(p), Recipe::planJson(t.row(i).plan));
        }
    }
    // setting bits on a float row quantizes it with the recipe's rounding
    QVERIFY(t.setData(t.index(v0, LayerTableModel::ColFormat), 3));
    QCOMPARE(t.row(v0).plan.method, QuantMethod::Rtn);
    QCOMPARE(t.format(v0), fmt("int3-g128"));
    t.undoStack()->undo();
    QCOMPARE(t.row(v0).plan.method, QuantMethod::None);
    // undoing the import restores the plans and the base recipe exactly
    t.undoStack()->undo();
    QCOMPARE(allPlans(t), start);
    QCOMPARE(t.baseRecipe(), LayerTableModel::initialRecipe());
    t.undoStack()->redo();
    QCOMPARE(t.baseRecipe(), r);
}

void TestViews::sensitivityColumnsFromReport() {
    LayerTableModel t;
    t.setModel(*demo().model);
    QSignalSpy spy(&t, &LayerTableModel::reportChanged);
    auto rep = std::make_shared<SensitivityReport>(syntheticReport([](int i) { return i == 4 ? std::nan("") : 1e-3 * (i + 1); }));
    t.setReport(rep);
    QCOMPARE(spy.size(), 1);
    QCOMPARE(t.referenceCandidate().value(), fmt("int3-g128"));  // the 3-bit candidate with the fewest bits/weight
    QCOMPARE(t.errorMeasureName(), QStringLiteral("block-output error"));
    QCOMPARE(t.sensitivity(0).value(), 1e-3);
    QCOMPARE(t.sensitivity(7).value(), 8e-3);
    QVERIFY(!t.sensitivity(4).has_value());  // not in the report
    QVERIFY(!t.index(4, LayerTableModel::ColSensitivity).data().isValid());
    QCOMPARE(t.outlierScore(7).value(), 9.0);  // syntheticReport: 1 + (index + 1)
    // error at the current format (int4-g128): a quarter of the 3-bit error
    QCOMPARE(t.errorAtFormat(7).value(), 8e-3 / 4);
    QVERIFY(t.setData(t.index(7, LayerTableModel::ColFormat), QStringLiteral("int3-g32")));
    QCOMPARE(t.errorAtFormat(7).value(), 8e-4);
    QCOMPARE(t.sensitivity(7).value(), 8e-3);  // fixed: does not follow the edit
    QVERIFY(t.setData(t.index(7, LayerTableModel::ColFormat), 5));  // int5-g32 is no candidate
    QVERIFY(!t.errorAtFormat(7).has_value());
    // without block errors the relative predicted error is the measure
    t.setReport(std::make_shared<SensitivityReport>(syntheticReport([](int i) { return 1e-3 * (i + 1); }, false)));
    QCOMPARE(t.errorMeasureName(), QStringLiteral("relative predicted error"));
    QCOMPARE(t.sensitivity(0).value(), 1e-2);
    // a report without 3-bit candidates: the cheapest candidate is the reference
    auto r2 = syntheticReport([](int i) { return 1e-3 * (i + 1); });
    r2.options.candidates = {fmt("int4-g128"), fmt("int2-g128")};
    t.setReport(std::make_shared<SensitivityReport>(r2));
    QCOMPARE(t.referenceCandidate().value(), fmt("int2-g128"));
    QCOMPARE(t.sensitivity(0).value(), 4e-3);
    t.setReport(nullptr);
    QVERIFY(!t.sensitivity(0).has_value());
}

void TestViews::delegateEditsThroughTheView() {
    LayerTableModel t;
    t.setModel(*demo().model);
    views::LayerProxyModel proxy;
    proxy.setSourceModel(&t);
    QTableView view;
    view.setModel(&proxy);
    auto* del = new views::BitsDelegate(&view);
    view.setItemDelegateForColumn(LayerTableModel::ColFormat, del);
    view.resize(1000, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    proxy.sort(LayerTableModel::ColName, Qt::DescendingOrder);  // proxy row != source row

    // direct delegate API
    const QModelIndex pi = proxy.index(0, LayerTableModel::ColFormat);
    const int src = proxy.mapToSource(pi).row();
    QVERIFY(src != 0);
    QStyleOptionViewItem opt;
    QWidget* w = del->createEditor(view.viewport(), opt, pi);
    auto* ed = qobject_cast<views::BitsEditor*>(w);
    QVERIFY(ed);
    del->setEditorData(ed, pi);
    QCOMPARE(ed->bits(), 4);
    QCOMPARE(ed->slider()->value(), 4);
    ed->slider()->setValue(2);  // slider and spin box stay in step
    QCOMPARE(ed->spinBox()->value(), 2);
    ed->spinBox()->setValue(6);
    QCOMPARE(ed->slider()->value(), 6);
    del->setModelData(ed, &proxy, pi);
    QCOMPARE(t.format(src), fmt("int6-g128"));
    QCOMPARE(t.undoStack()->count(), 1);
    delete w;

    // the view's own editing path: open the editor, change it, commit
    const QModelIndex pj = proxy.index(2, LayerTableModel::ColFormat);
    const int srcJ = proxy.mapToSource(pj).row();
    view.setCurrentIndex(pj);
    view.edit(pj);
    auto* ed2 = view.viewport()->findChild<views::BitsEditor*>();
    QVERIFY(ed2);
    QCOMPARE(ed2->bits(), 4);
    ed2->setBits(3);
    Q_EMIT del->commitData(ed2);
    Q_EMIT del->closeEditor(ed2);
    QCOMPARE(t.format(srcJ), fmt("int3-g128"));
    QCOMPARE(t.undoStack()->count(), 2);
}

void TestViews::proxySortsNumericallyAndFilters() {
    LayerTableModel t;
    t.setModel(*demo().model);
    views::LayerProxyModel proxy;
    proxy.setSourceModel(&t);
    // values whose text order differs from their numeric order: 9.00e-04 < 0.001 < 0.02 < 0.3
    const double vals[] = {9e-4, 1e-3, 2e-2, 3e-1, 5e-5, 7e-3};
    t.setReport(std::make_shared<SensitivityReport>(syntheticReport([&](int i) { return i % 7 == 6 ? std::nan("") : vals[i % 6] * (1 + i * 1e-6); })));
    int empty = 0;
    for (int r = 0; r < t.rowCount(); ++r) empty += !t.sensitivity(r).has_value();
    QCOMPARE(empty, 6);
    for (Qt::SortOrder order : {Qt::DescendingOrder, Qt::AscendingOrder}) {
        proxy.sort(LayerTableModel::ColSensitivity, order);
        QCOMPARE(proxy.rowCount(), 42);
        double prev = order == Qt::DescendingOrder ? 1e300 : -1e300;
        for (int r = 0; r < 42 - empty; ++r) {
            const QVariant v = proxy.index(r, LayerTableModel::ColSensitivity).data(LayerTableModel::SortRole);
            QVERIFY2(v.isValid(), qPrintable(QStringLiteral("row %1 empty before the filled ones end").arg(r)));
            const double x = v.toDouble();
            QVERIFY(order == Qt::DescendingOrder ? x <= prev : x >= prev);
            prev = x;
        }
        for (int r = 42 - empty; r < 42; ++r)  // empty cells last in both directions
            QVERIFY(!proxy.index(r, LayerTableModel::ColSensitivity).data(LayerTableModel::SortRole).isValid());
    }
    proxy.sort(LayerTableModel::ColSensitivity, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, LayerTableModel::ColSensitivity).data().toString().left(3), QStringLiteral("0.3"));
    // text sorting would put "9.00e-04" first
    QVERIFY(proxy.index(0, LayerTableModel::ColSensitivity).data().toString() != QStringLiteral("9.00e-04"));
    // sorting follows edits of the bits column live
    proxy.sort(LayerTableModel::ColBits, Qt::DescendingOrder);
    QVERIFY(t.setData(t.index(11, LayerTableModel::ColFormat), 8));
    QCOMPARE(proxy.mapToSource(proxy.index(0, 0)).row(), 11);

    // filters: substring (case-insensitive) and wildcards
    proxy.setNameFilter(QStringLiteral("down_proj"));
    QCOMPARE(proxy.rowCount(), 6);
    proxy.setNameFilter(QStringLiteral("MLP"));
    QCOMPARE(proxy.rowCount(), 18);
    proxy.setNameFilter(QStringLiteral("layers.1*.q_proj"));
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.index(0, LayerTableModel::ColName).data().toString(), QStringLiteral("model.layers.1.self_attn.q_proj"));
    proxy.setNameFilter(QStringLiteral("layers.?.self_attn.o_proj"));
    QCOMPARE(proxy.rowCount(), 6);
    QModelIndexList sel;
    for (int r = 0; r < proxy.rowCount(); ++r) sel << proxy.index(r, 0) << proxy.index(r, 3);
    QCOMPARE(proxy.sourceRows(sel).size(), 6);
    proxy.setNameFilter(QString());
    QCOMPARE(proxy.rowCount(), 42);
}

void TestViews::chartShowsSensitivityAndBits() {
    LayerTableModel t;
    t.setModel(*demo().model);
    views::SensitivityChart chart;
    chart.setTableModel(&t);
    chart.resize(1200, 350);
    QCOMPARE(chart.barCount(), 42);
    QCOMPARE(chart.bitsLine().size(), 42);
    QCOMPARE(chart.bitsLine().at(0), t.bitsPerWeight(0));
    QVERIFY(!chart.logScale());
    // values within two decades: linear axis
    t.setReport(std::make_shared<SensitivityReport>(syntheticReport([](int i) { return 1e-3 * (1 + i % 5); })));
    QVERIFY(!chart.logScale());
    QCOMPARE(chart.barValues().at(3), t.sensitivity(3).value());
    // values spanning four decades: log axis
    t.setReport(std::make_shared<SensitivityReport>(syntheticReport([](int i) { return std::pow(10.0, -2 - (i % 5)); })));
    QVERIFY(chart.logScale());
    QCOMPARE(chart.barValues().size(), 42);
    // the bits line follows edits live
    QVERIFY(t.setFormats({0, 1}, fmt("int2-g128")));
    QCOMPARE(chart.bitsLine().at(1), t.bitsPerWeight(1));
    QVERIFY(chart.bitsLine().at(1) < 2.2);
    t.undoStack()->undo();
    QCOMPARE(chart.bitsLine().at(1), t.bitsPerWeight(1));
    QVERIFY(chart.bitsLine().at(1) > 4.1);
    const QImage img = chart.grab().toImage();
    QCOMPARE(img.size(), QSize(1200, 350));
    // the layer labels: whole names, never elided; at 1200 px all 42 fit rotated, at
    // 400 px every k-th (Qt's bar category axis elided them all to "...")
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    QTest::qWait(20);
    QStringList all;
    for (int r = 0; r < t.rowCount(); ++r) all << views::shortLayerName(t.row(r).block, t.row(r).kind);
    QCOMPARE(chart.categoryLabels(), all);
    chart.resize(400, 300);
    QTest::qWait(20);
    const QStringList few = chart.categoryLabels();
    QVERIFY2(few.size() > 3 && few.size() < 42, qPrintable(few.join(QLatin1Char(','))));
    const int stride = int(std::ceil(42.0 / few.size()));
    for (int i = 0; i < few.size(); ++i) QCOMPARE(few[i], all[i * stride]);
    for (const QString& l : few) QVERIFY2(!l.contains(QStringLiteral("...")) && !l.contains(QStringLiteral("…")), qPrintable(l));
}

void TestViews::mainWindowJobs() {
    gui::MainWindow w(smallOptions());
    w.resize(1280, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    // every toolbar action fits at 1280 px (test_translations checks German and Chinese)
    for (QToolBar* tb : w.findChildren<QToolBar*>())
        for (QAction* a : tb->actions()) {
            if (!a->isVisible() || a->isSeparator()) continue;
            QWidget* b = tb->widgetForAction(a);
            QVERIFY2(b && b->isVisible() && b->geometry().right() < tb->width(), qPrintable(a->iconText()));
        }
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    QSignalSpy errors(&w, &gui::MainWindow::errorOccurred);
    QSignalSpy finished(&w, &gui::MainWindow::analysisFinished);
    QSignalSpy progress(&w, &gui::MainWindow::progressChanged);

    // a bad path: core's message, no model
    w.openModel(QStringLiteral("/nonexistent/model.safetensors"));
    QVERIFY(w.busy());
    QVERIFY(loaded.wait(30000));
    QCOMPARE(loaded.last().at(0).toBool(), false);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("/nonexistent/model.safetensors")), qPrintable(errors.last().at(1).toString()));
    QVERIFY(!w.loaded());
    QVERIFY(!w.startAnalysis());  // nothing to analyse
    QCOMPARE(errors.size(), 2);

    // a HF directory (the demo written to disk) loads in the background, with the
    // tokenizer found next to it; the event loop keeps running meanwhile
    QTemporaryDir modelDir;
    writeDemo(demo(), modelDir.path());
    int ticks = 0;
    QTimer timer;
    connect(&timer, &QTimer::timeout, [&] { ++ticks; });
    timer.start(10);
    w.openModel(modelDir.path());
    QVERIFY(w.busy());
    QVERIFY(loaded.wait(60000));
    QCOMPARE(loaded.last().at(0).toBool(), true);
    QCOMPARE(errors.size(), 2);
    QVERIFY(w.loaded() && w.loaded()->tokenizer && !w.loaded()->demo);
    QCOMPARE(w.tableModel()->rowCount(), 42);
    QVERIFY(w.totalsText().contains(QStringLiteral("bits/weight")));
    QVERIFY(w.windowTitle().contains(QFileInfo(modelDir.path()).fileName()));
    QVERIFY(!w.startAnalysis());  // not the demo: a calibration text is needed
    QCOMPARE(errors.size(), 3);
    w.setCalibration(4, 128);
    {  // before the analysis: the table and the bits line, empty sensitivity columns
        QTest::qWait(50);  // let the chart lay out its new axes
        const QImage img = w.grab().toImage();
        QCOMPARE(img.size(), QSize(1280, 800));
        const QString out = qEnvironmentVariable("QS_SCREENSHOT_BEFORE");
        if (!out.isEmpty()) QVERIFY(img.save(out));
    }
    const QString calib = modelDir.filePath(QStringLiteral("eval.txt"));

    // the analysis: progress arrives on the GUI thread; cancel stops it
    connect(&w, &gui::MainWindow::progressChanged, &w, [&](double f, const QString&) {
        if (f > 0.1 && w.analysing()) w.cancelJob();
    });
    ticks = 0;
    QVERIFY(w.startAnalysis(calib));
    QVERIFY(w.analysing());
    QVERIFY(!w.startAnalysis(calib));  // one job at a time
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.last().at(0).toBool(), false);
    QVERIFY(w.statusText().contains(QStringLiteral("cancelled")));
    QVERIFY(!w.tableModel()->report());
    QVERIFY(progress.size() >= 1);
    QVERIFY(ticks > 0);
    disconnect(&w, &gui::MainWindow::progressChanged, &w, nullptr);

    // a calibration file that does not exist: core's message names it
    QVERIFY(w.startAnalysis(modelDir.filePath(QStringLiteral("missing.txt"))));
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.last().at(0).toBool(), false);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("missing.txt")), qPrintable(errors.last().at(1).toString()));

    // the table stays editable while the analysis runs
    QVERIFY(w.startAnalysis(calib));
    QVERIFY(w.tableModel()->setData(w.tableModel()->index(0, views::LayerTableModel::ColFormat), 8));
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.last().at(0).toBool(), true);
    QVERIFY(w.tableModel()->report());
    QVERIFY(w.tableModel()->sensitivity(0).has_value());
    QCOMPARE(w.tableModel()->errorMeasureName(), QStringLiteral("block-output error"));
    QCOMPARE(w.chart()->barCount(), 42);

    // auto-assign: one undo step, within the budget, and what the knapsack picks
    QUndoStack* undo = w.tableModel()->undoStack();
    const int steps = undo->count();
    const auto before = allPlans(*w.tableModel());
    QVERIFY(w.autoAssign(3.0));
    QCOMPARE(undo->count(), steps + 1);
    QVERIFY(w.tableModel()->averageBits() <= 3.0);
    QVERIFY(w.tableModel()->averageBits() > 2.5);
    const auto items = allocItemsFromReport(*w.tableModel()->report(), {}, AllocCost::Block);
    const Allocation a = allocateKnapsack(items, 3.0);
    for (size_t i = 0; i < items.size(); ++i)
        QCOMPARE(w.tableModel()->format(w.tableModel()->rowOf(items[i].name)), items[i].choices[size_t(a.choice[i])].format);
    QVERIFY(std::fabs(w.tableModel()->averageBits() - a.avgBits) < 1e-9);
    std::set<std::string> used;
    for (int r = 0; r < 42; ++r) used.insert(w.tableModel()->format(r).name());
    QVERIFY(used.size() >= 2);  // a mixed assignment
    undo->undo();
    QCOMPARE(allPlans(*w.tableModel()), before);
    undo->redo();
    QVERIFY(!w.autoAssign(1.0));  // infeasible: the message from core
    QVERIFY(errors.last().at(1).toString().size() > 10);

    // multi-select in the view + "Set format": one undo step
    w.tableView()->clearSelection();
    w.tableView()->selectionModel()->select(w.proxyModel()->index(0, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    w.tableView()->selectionModel()->select(w.proxyModel()->index(5, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    w.tableView()->selectionModel()->select(w.proxyModel()->index(9, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    auto* combo = w.findChild<QComboBox*>(QStringLiteral("formatCombo"));
    QVERIFY(combo);
    combo->setCurrentText(QStringLiteral("mxfp4"));
    QPushButton* apply = nullptr;
    for (QPushButton* b : w.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("Set format")) apply = b;
    QVERIFY(apply && apply->isEnabled());
    const int s2 = undo->count();
    apply->click();
    QCOMPARE(undo->count(), s2 + 1);
    for (int pr : {0, 5, 9}) QCOMPARE(w.tableModel()->format(w.proxyModel()->mapToSource(w.proxyModel()->index(pr, 0)).row()), fmt("mxfp4"));
    // Edit → Set method of selected rows → boa: the selected rows, formats kept
    {
        QAction* boa = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text() == QStringLiteral("boa")) boa = a;
        QVERIFY(boa);
        boa->trigger();
        QCOMPARE(undo->count(), s2 + 2);
        for (int pr : {0, 5, 9}) {
            const int r = w.proxyModel()->mapToSource(w.proxyModel()->index(pr, 0)).row();
            QCOMPARE(w.tableModel()->index(r, views::LayerTableModel::ColMethod).data().toString(), QStringLiteral("boa"));
            QCOMPARE(w.tableModel()->format(r), fmt("mxfp4"));
        }
        undo->undo();
    }
    // the exporters' grids are offered, and any other format can be typed
    QVERIFY(combo->findText(QStringLiteral("gguf_q4_0")) >= 0);
    QVERIFY(combo->findText(QStringLiteral("int4-g128-f16")) >= 0);
    combo->setCurrentText(QStringLiteral("int3-sym-g64-f16"));
    apply->click();
    QCOMPARE(undo->count(), s2 + 2);
    for (int pr : {0, 5, 9}) QCOMPARE(w.tableModel()->format(w.proxyModel()->mapToSource(w.proxyModel()->index(pr, 0)).row()), fmt("int3-sym-g64-f16"));
    const int errorsBefore = int(errors.size());
    combo->setCurrentText(QStringLiteral("int9-g64"));
    apply->click();
    QCOMPARE(undo->count(), s2 + 2);  // nothing set, and the user is told why
    QCOMPARE(int(errors.size()), errorsBefore + 1);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("int9-g64")), qPrintable(errors.last().at(1).toString()));
    undo->undo();

    // export, change, import: the formats come back (one undo step)
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("r.json"));
    std::vector<QuantFormat> exported;
    for (int r = 0; r < 42; ++r) exported.push_back(w.tableModel()->format(r));
    QVERIFY(w.exportRecipe(path));
    QVERIFY(w.tableModel()->setFormats({0, 1, 2, 3}, fmt("int8")));
    const int s3 = undo->count();
    QVERIFY(w.importRecipe(path));
    QCOMPARE(undo->count(), s3 + 1);
    for (int r = 0; r < 42; ++r) QCOMPARE(w.tableModel()->format(r), exported[size_t(r)]);
    // a broken recipe: core's message with the JSON path
    QFile bad(dir.filePath(QStringLiteral("bad.json")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("{\"quantscope_recipe\": 1, \"defaults\": {\"wformat\": \"int9\"}}");
    bad.close();
    QVERIFY(!w.importRecipe(bad.fileName()));
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("defaults.wformat")), qPrintable(errors.last().at(1).toString()));
    QCOMPARE(undo->count(), s3 + 1);
    QVERIFY(!w.exportRecipe(dir.filePath(QStringLiteral("no/such/dir/r.json"))));

    // a recipe dropped on the window is imported
    QVERIFY(w.tableModel()->setFormats({0, 1, 2, 3}, fmt("int8")));
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(path)});
    QDragEnterEvent enter(QPoint(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(&w, &drop);
    for (int r = 0; r < 42; ++r) QCOMPARE(w.tableModel()->format(r), exported[size_t(r)]);
}

void TestViews::jobListModel() {
    views::JobListModel m;
    const int a = m.addJob(QStringLiteral("a")), b = m.addJob(QStringLiteral("b"));
    QVERIFY(a > 0 && b == a + 1);
    QCOMPARE(m.activeCount(), 2);
    QCOMPARE(m.job(a)->status, views::JobStatus::Queued);
    QVERIFY(!m.remainingSeconds(a));
    m.setRunning(a);
    m.setProgress(a, 0.01, QStringLiteral("early"));
    QVERIFY(!m.remainingSeconds(a));  // below 2 %: unknown
    QTest::qWait(120);
    m.setProgress(a, 0.25, QStringLiteral("block 1"));
    const double el = double(m.job(a)->elapsedMs) / 1000.0;
    QVERIFY(el >= 0.1);
    QVERIFY(std::fabs(*m.remainingSeconds(a) - el * 3.0) < 1e-9);  // elapsed · (1 − f) / f
    QCOMPARE(m.index(m.rowOf(a), views::JobListModel::ColMessage).data().toString(), QStringLiteral("block 1"));
    m.markCancelRequested(a);
    QCOMPARE(m.index(m.rowOf(a), views::JobListModel::ColStatus).data().toString(), QStringLiteral("cancelling…"));
    m.finish(a, views::JobStatus::Cancelled, QStringLiteral("cancelled"));
    QVERIFY(!m.remainingSeconds(a));
    m.setProgress(a, 0.9, QStringLiteral("late"));  // progress after the end is ignored
    QCOMPARE(m.job(a)->message, QStringLiteral("cancelled"));
    QCOMPARE(m.activeCount(), 1);
    m.clearEnded();
    QCOMPARE(m.rowCount(), 1);
    QVERIFY(!m.job(a) && m.job(b));
    QCOMPARE(views::formatDuration(3725), QStringLiteral("1 h 02 min"));
    QCOMPARE(views::formatDuration(65), QStringLiteral("1 min 05 s"));
    QCOMPARE(views::formatDuration(7.4), QStringLiteral("7 s"));

    // the panel: Cancel emits for the selected running/queued jobs only
    views::JobPanel panel(&m);
    QSignalSpy cancel(&panel, &views::JobPanel::cancelRequested);
    QVERIFY(!panel.cancelButton()->isEnabled());
    panel.view()->selectRow(0);
    QVERIFY(panel.cancelButton()->isEnabled());
    panel.cancelButton()->click();
    QCOMPARE(cancel.size(), 1);
    QCOMPARE(cancel.last().at(0).toInt(), b);
}

void TestViews::perplexityChart() {
    views::PerplexityChart c;
    c.resize(600, 400);
    QCOMPARE(c.curveCount(), 0);
    std::vector<views::PplCurve> curves(2);
    curves[0].name = QStringLiteral("uniform gptq");
    curves[0].points = {{4.5, 12.0, QStringLiteral("r1"), 1}, {2.5, 40.0, QStringLiteral("r2"), 2}, {3.5, 15.0, QStringLiteral("r3"), 3}};
    curves[1].name = QStringLiteral("auto-assign");
    curves[1].points = {{3.0, 14.0, QStringLiteral("r4"), 4}, {2.7, std::numeric_limits<double>::quiet_NaN(), QStringLiteral("bad"), 5}};
    curves.push_back({QStringLiteral("empty"), {}});
    c.setCurves(curves);
    QCOMPARE(c.curveCount(), 2);  // the empty curve is dropped, the NaN point too
    QCOMPARE(c.curves()[0].points.front().bits, 2.5);  // sorted by bits
    QCOMPARE(int(c.curves()[1].points.size()), 1);
    QVERIFY(!c.logScale());  // 12 .. 40: less than a factor 10, linear
    c.setReferencePpl(3.0, QStringLiteral("float model"));
    QVERIFY(c.logScale());  // 3 .. 40: more than a factor 10, logarithmic
    QVERIFY(c.pplRange().first <= 3.0 && c.pplRange().second >= 40.0);
    QVERIFY(c.bitsRange().first <= 2.5 && c.bitsRange().second >= 4.5);
    const QStringList names = c.legendNames();
    QVERIFY2(names.contains(QStringLiteral("uniform gptq")) && names.contains(QStringLiteral("auto-assign")), qPrintable(names.join(',')));
    QVERIFY(names.join(',').contains(QStringLiteral("float model: 3.00")));
    c.setFrontier({{2.2, 1e-2}, {3.0, 1e-3}, {4.0, 0.0}}, QStringLiteral("block error"));
    QCOMPARE(c.frontierPoints(), 2);  // zero errors cannot sit on the log axis
    QVERIFY(c.bitsRange().first <= 2.2);
}

void TestViews::mainWindowRunsFlow() {
    // open the demo → analyse → auto-assign → run → its curve appears and it is
    // logged → sweep (another curve) → cancel a queued and a running run → export
    // the recipe, re-import it identically → a logged run's recipe reopens
    QTemporaryDir dir;
    gui::MainWindowOptions o = smallOptions();
    o.databasePath = dir.filePath(QStringLiteral("log.sqlite"));
    gui::MainWindow w(o);
    w.resize(1280, 800);
    w.show();
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    QSignalSpy analysed(&w, &gui::MainWindow::analysisFinished);
    QSignalSpy ended(&w, &gui::MainWindow::runEnded);
    QSignalSpy errors(&w, &gui::MainWindow::errorOccurred);
    QVERIFY(w.store());
    QCOMPARE(w.runCurrent(), 0);  // no model yet: a message, nothing queued
    QCOMPARE(errors.size(), 1);
    w.loadDemo();
    QVERIFY(loaded.wait(120000));
    QVERIFY(w.startAnalysis());
    QVERIFY(analysed.wait(300000));
    QCOMPARE(analysed.last().at(0).toBool(), true);
    QVERIFY(w.perplexityChart()->frontierPoints() >= 2);  // the analysis' Pareto frontier
    QCOMPARE(w.heatmap()->report(), w.tableModel()->report());  // the outlier heatmap shows the analysis
    QVERIFY(w.heatmap()->rowCount() > 0 && w.heatmap()->hint().isEmpty());
    QVERIFY(w.autoAssign(3.0));

    // one run of the table's recipe, driven through the Run button
    w.setExperimentName(QStringLiteral("hand-tuned"));
    QPushButton* run = nullptr;
    for (QPushButton* b : w.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("Run")) run = b;
    QVERIFY(run && run->isEnabled());
    const Recipe asRun = w.tableModel()->toRecipe();
    run->click();
    QCOMPARE(w.jobModel()->rowCount(), 1);
    // the table stays editable while the run works; the run keeps the recipe it was given
    QVERIFY(w.tableModel()->setData(w.tableModel()->index(0, views::LayerTableModel::ColFormat), 8));
    QVERIFY(ended.wait(300000));
    QCOMPARE(ended.last().at(1).toBool(), true);
    QVERIFY(errors.size() == 1);
    w.tableModel()->undoStack()->undo();
    const gui::RunDone d = w.runQueue()->done().back();  // a copy: done() grows
    QVERIFY(d.ok && d.runId > 0);
    QVERIFY(std::isfinite(d.result->eval.ppl) && d.result->eval.ppl > 1.0);
    QVERIFY(d.result->eval.referencePpl.has_value());
    QVERIFY(std::fabs(d.result->quant.avgBits - w.tableModel()->averageBits()) < 1e-9);  // what the table said it would cost
    QCOMPARE(w.perplexityChart()->curveCount(), 1);
    QCOMPARE(w.perplexityChart()->curves()[0].name, QStringLiteral("hand-tuned"));
    QCOMPARE(w.perplexityChart()->curves()[0].points[0].ppl, d.result->eval.ppl);
    // logged, with its results and the recipe it ran
    {
        const std::optional<RunRecord> r = w.store()->run(d.runId);
        QVERIFY(r);
        QCOMPARE(r->status, QStringLiteral("finished"));
        QCOMPARE(int(r->layers.size()), 42);
        QCOMPARE(r->datasets.at(0).ppl, d.result->eval.ppl);
        QCOMPARE(*r->avgBits, d.result->quant.avgBits);
        QCOMPARE(r->params.value(QStringLiteral("experiment")).toString(), QStringLiteral("hand-tuned"));
        Recipe logged = Recipe::parse(QJsonDocument(r->recipe).toJson());
        Recipe expect = asRun;
        expect.setCalibration(logged.calibration());
        QCOMPARE(logged.toJson(), expect.toJson());
    }
    QCOMPARE(w.historyView()->model()->rowCount(), 1);
    QCOMPARE(w.historyView()->model()->compared(), std::vector<qint64>{d.runId});
    // its per-layer output errors are drawn
    QCOMPARE(w.errorChart()->barSetCount(), 1);
    QCOMPARE(w.errorChart()->categories().size(), 42);
    QCOMPARE(w.errorChart()->errors(0).at(0), d.result->quant.layers.at(0).relOutputError);

    // a budget sweep: a second curve (named after the sweep when the experiment is unnamed), each point within its budget
    w.setExperimentName(QString());
    QCOMPARE(w.runSweep(gui::SweepKind::Budgets, QStringLiteral("2.5, 4")), 2);
    QCOMPARE(w.runQueue()->pending(), 2);
    while (w.runQueue()->pending() > 0) QVERIFY(ended.wait(300000));
    QCOMPARE(w.perplexityChart()->curveCount(), 2);
    for (const views::PplCurve& c : w.perplexityChart()->curves()) {
        if (c.name == QStringLiteral("hand-tuned")) continue;
        QCOMPARE(int(c.points.size()), 2);
        QVERIFY(c.points[0].bits <= 2.5 + 1e-9 && c.points[1].bits <= 4.0 + 1e-9);
        QVERIFY(c.points[0].ppl >= c.points[1].ppl);  // fewer bits, worse perplexity (by a wide margin at 2.5 vs 4)
    }
    // selecting two runs in the history shows their per-layer errors side by side
    w.historyView()->view()->selectAll();
    QCOMPARE(w.errorChart()->barSetCount(), 3);
    QCOMPARE(w.runSweep(gui::SweepKind::Budgets, QStringLiteral("three")), 0);  // a clear message, nothing queued
    QVERIFY(errors.last().at(1).toString().contains(QStringLiteral("three")));
    QCOMPARE(w.runQueue()->pending(), 0);

    // cancel: the queued run never starts, the running one stops
    QCOMPARE(w.runSweep(gui::SweepKind::Formats, QStringLiteral("int3-g128, int4-g128")), 2);
    const int first = w.jobModel()->idAt(w.jobModel()->rowCount() - 2), second = w.jobModel()->idAt(w.jobModel()->rowCount() - 1);
    w.runQueue()->cancel(second);
    QCOMPARE(w.jobModel()->job(second)->status, views::JobStatus::Cancelled);
    QTRY_VERIFY_WITH_TIMEOUT(w.jobModel()->job(first)->fraction > 0.05, 120000);
    w.runQueue()->cancel(first);
    QVERIFY(ended.wait(120000));
    QCOMPARE(w.jobModel()->job(first)->status, views::JobStatus::Cancelled);
    QVERIFY(w.runQueue()->idle());
    {
        RunFilter f;
        f.status = QStringLiteral("cancelled");
        QCOMPARE(int(w.store()->listRuns(f).size()), 1);  // the started one is logged as cancelled; the queued one never began
        QCOMPARE(w.store()->integrityCheck(), QStringLiteral("ok"));
    }
    QCOMPARE(w.perplexityChart()->curveCount(), 2);  // cancelled runs draw nothing

    // export the recipe, then re-import it: identical
    const QString path = dir.filePath(QStringLiteral("chosen.json"));
    QVERIFY(w.exportRecipe(path));
    const Recipe exported = Recipe::load(path);
    QCOMPARE(exported.toJson(), w.tableModel()->toRecipe().toJson());
    QVERIFY(w.tableModel()->setFormats({0, 1, 2}, fmt("int8")));
    QVERIFY(w.importRecipe(path));
    QCOMPARE(w.tableModel()->toRecipe().toJson(), exported.toJson());

    // a logged run's recipe reopens in the table (from the history)
    QVERIFY(w.tableModel()->setFormats({0, 1, 2}, fmt("int8")));
    QVERIFY2(w.openRunRecipe(d.runId), qPrintable(errors.last().at(1).toString()));
    Recipe reopened = w.tableModel()->toRecipe();
    QCOMPARE(Recipe::planJson(reopened.planFor(w.tableModel()->row(0).name)), Recipe::planJson(asRun.planFor(w.tableModel()->row(0).name)));
    for (int r = 0; r < w.tableModel()->rowCount(); ++r)
        QCOMPARE(Recipe::planJson(reopened.planFor(w.tableModel()->row(r).name)), Recipe::planJson(asRun.planFor(w.tableModel()->row(r).name)));
    QVERIFY(!w.openRunRecipe(9999));
}

void TestViews::settingsRecentClipboardAndCancelledLoad() {
    QTemporaryDir conf;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, conf.path());  // never the user's settings
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, conf.path());
    {
        QSettings().clear();
        gui::AppSettings s = gui::AppSettings::load();
        QCOMPARE(s.computeDevice, QStringLiteral("auto"));
        QVERIFY(s.recentModels.isEmpty());
        s.computeDevice = QStringLiteral("cpu");
        s.threads = 1;
        s.calibrationPath = QStringLiteral("/data/c4.jsonl");
        s.evaluationPath = QStringLiteral("/data/wiki.test.raw");
        s.databasePath = conf.filePath(QStringLiteral("log.sqlite"));
        for (int i = 0; i < 12; ++i) s.addRecentModel(QStringLiteral("/models/m%1").arg(i));
        s.addRecentModel(QStringLiteral("/models/m5"));  // moves to the front, no duplicate
        QCOMPARE(s.recentModels.size(), gui::AppSettings::kMaxRecent);
        QCOMPARE(s.recentModels.front(), QStringLiteral("/models/m5"));
        QCOMPARE(s.recentModels.count(QStringLiteral("/models/m5")), 1);
        s.save();
        const gui::AppSettings r = gui::AppSettings::load();
        QCOMPARE(r.computeDevice, s.computeDevice);
        QCOMPARE(r.threads, 1);
        QCOMPARE(r.calibrationPath, s.calibrationPath);
        QCOMPARE(r.evaluationPath, s.evaluationPath);
        QCOMPARE(r.databasePath, s.databasePath);
        QCOMPARE(r.recentModels, s.recentModels);
        // the dialog shows and returns them (a device that is not present stays selectable)
        gui::AppSettings withDevice = r;
        withDevice.openclDevice = QStringLiteral("7:3");
        gui::SettingsDialog dlg(withDevice, {{QStringLiteral("0:0"), QStringLiteral("0:0 cpu (PoCL, CPU)")}}, QStringLiteral("note"));
        const gui::AppSettings back = dlg.settings();
        QCOMPARE(back.computeDevice, QStringLiteral("cpu"));
        QCOMPARE(back.openclDevice, QStringLiteral("7:3"));
        QCOMPARE(back.threads, 1);
        QCOMPARE(back.databasePath, s.databasePath);
        QSettings().clear();
    }

    gui::MainWindowOptions o = smallOptions();
    o.persistentSettings = true;  // the app's behaviour, on the test's own settings path
    QTemporaryDir dir;
    o.databasePath = dir.filePath(QStringLiteral("log.sqlite"));
    gui::MainWindow w(o);
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    QVERIFY(w.deviceText().contains(QStringLiteral("threads")));

    // cancelling a load: the window is free at once and the model never opens
    w.loadDemo();
    QVERIFY(w.busy());
    w.cancelJob();
    QVERIFY(!w.busy());
    QCOMPARE(loaded.size(), 1);
    QCOMPARE(loaded.last().at(0).toBool(), false);
    QTest::qWait(200);
    QTRY_VERIFY_WITH_TIMEOUT(!w.busy(), 1000);
    QTest::qWait(15000);  // the abandoned build ends meanwhile: it is dropped
    QVERIFY(!w.loaded());
    QCOMPARE(loaded.size(), 1);

    // a model opened from disk joins the recent list (kept in the settings)
    QTemporaryDir modelDir;
    writeDemo(demo(), modelDir.path());
    w.openModel(modelDir.path());
    QVERIFY(loaded.wait(60000));
    QCOMPARE(loaded.last().at(0).toBool(), true);
    QCOMPARE(w.settings().recentModels.value(0), QFileInfo(modelDir.path()).absoluteFilePath());
    QCOMPARE(gui::AppSettings::load().recentModels.value(0), QFileInfo(modelDir.path()).absoluteFilePath());

    // copy the recipe: the clipboard holds JSON that parses to the table's recipe
    QVERIFY(w.tableModel()->setFormats({0, 2}, fmt("int8")));
    w.copyRecipe();
    const Recipe copied = Recipe::parse(QApplication::clipboard()->text().toUtf8());
    QCOMPARE(copied.toJson(), w.tableModel()->toRecipe().toJson());
    QSettings().clear();
}

void TestViews::screenshot() {
    QString err;
    const int tab = qEnvironmentVariableIntValue("QS_SCREENSHOT_TAB");
    gui::MainWindowOptions o = smallOptions();
    o.databasePath.reset();  // the screenshot's own temporary log (history and curves as in docs/screenshot.png)
    const QImage img = gui::renderDemoScreenshot(o, QSize(1280, 800), 3.0, &err, tab, 300000);
    QVERIFY2(!img.isNull(), qPrintable(err));
    QCOMPARE(img.size(), QSize(1280, 800));
    // not blank: many distinct colours (text, bars, the bits line)
    std::set<QRgb> colours;
    for (int y = 0; y < img.height(); y += 3)
        for (int x = 0; x < img.width(); x += 3) colours.insert(img.pixel(x, y));
    QVERIFY2(colours.size() > 50, qPrintable(QString::number(colours.size())));
    const QString out = qEnvironmentVariable("QS_SCREENSHOT_OUT");
    if (!out.isEmpty()) QVERIFY(img.save(out));
}

void TestViews::analysisIsLoggedAndRestored() {
    // an analysis is kept in the experiment log; opening the same weights again
    // (a new window, a later session) shows it without analysing again
    QTemporaryDir dir;
    gui::MainWindowOptions o = smallOptions();
    o.databasePath = dir.filePath(QStringLiteral("log.sqlite"));
    std::vector<double> first;
    {
        gui::MainWindow w(o);
        QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
        QSignalSpy analysed(&w, &gui::MainWindow::analysisFinished);
        w.loadDemo();
        QVERIFY(loaded.wait(120000));
        QVERIFY(!w.tableModel()->report());  // a fresh log: nothing to restore
        w.setCalibration(4, 96);
        QVERIFY(w.startAnalysis());
        QVERIFY(analysed.wait(300000));
        QVERIFY(w.tableModel()->report());
        for (int r = 0; r < w.tableModel()->rowCount(); ++r) first.push_back(w.tableModel()->sensitivity(r).value());
        QVERIFY(w.store()->latestSensitivityReport(QString::fromStdString(w.loaded()->hash)).has_value());
    }
    gui::MainWindow w(o);
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    w.loadDemo();
    QVERIFY(loaded.wait(120000));
    QVERIFY(w.tableModel()->report());
    QVERIFY2(w.statusText().startsWith(QStringLiteral("Restored the analysis of ")), qPrintable(w.statusText()));
    QCOMPARE(int(first.size()), w.tableModel()->rowCount());
    for (int r = 0; r < w.tableModel()->rowCount(); ++r) QCOMPARE(w.tableModel()->sensitivity(r).value(), first[size_t(r)]);
    QCOMPARE(w.tableModel()->report()->calib.seqlen, 96);  // the analysis' calibration, also for the next runs
    QVERIFY(w.heatmap()->report() == w.tableModel()->report());
    QVERIFY(w.autoAssign(3.0));  // usable as if just analysed
}

void TestViews::realModelAnalyseAssignRunExport() {
    // the whole workflow on the real stories260K through the window: open the
    // llama2.c file, analyse on TinyStories, auto-assign at 8.5 bits over llama.cpp's
    // grids (down_proj, 172 inputs, stays fp16, so no budget below 7.3 bits is feasible),
    // run, export GGUF; the file evaluates to the run's perplexity
    QS_REQUIRE_SHARED(shared);
    QTemporaryDir dir;
    const QString model = shared + QStringLiteral("/models/stories260K/stories260K.bin");
    const QString slice = shared + QStringLiteral("/data/tinystories/valid-slice.txt");
    gui::MainWindowOptions o = smallOptions();
    o.databasePath = dir.filePath(QStringLiteral("log.sqlite"));
    o.candidates = {fmt("gguf_q4_0"), fmt("gguf_q4_1"), fmt("gguf_q8_0"), fmt("fp16")};
    gui::MainWindow w(o);
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    QSignalSpy analysed(&w, &gui::MainWindow::analysisFinished);
    QSignalSpy ended(&w, &gui::MainWindow::runEnded);
    QSignalSpy errors(&w, &gui::MainWindow::errorOccurred);
    w.openModel(model);
    QVERIFY(loaded.wait(120000));
    QCOMPARE(loaded.last().at(0).toBool(), true);
    QVERIFY(w.loaded()->tokenizer);  // tok512.bin next to the model
    QCOMPARE(w.tableModel()->rowCount(), 35);
    w.setCalibration(16, 256);
    QVERIFY(w.startAnalysis(slice));
    QVERIFY(analysed.wait(300000));
    QCOMPARE(analysed.last().at(0).toBool(), true);
    QVERIFY2(w.autoAssign(8.5), qPrintable(errors.isEmpty() ? QString() : errors.last().at(1).toString()));
    QVERIFY(w.tableModel()->averageBits() <= 8.5 + 1e-9);
    QCOMPARE(w.budget(), 8.5);  // the toolbar's field shows it
    std::set<std::string> used;
    for (int r = 0; r < w.tableModel()->rowCount(); ++r) used.insert(w.tableModel()->format(r).name());
    QVERIFY2(used.size() >= 2, "the budget should mix the candidates");
    w.setEvalPath(slice);
    const QString file = dir.filePath(QStringLiteral("stories-mixed.gguf"));
    VerifiedExportRequest req;
    req.format = QStringLiteral("gguf");
    req.out = file;
    QVERIFY(w.exportModel(req) > 0);
    QVERIFY(ended.wait(300000));
    const gui::RunDone d = w.runQueue()->done().back();
    QVERIFY2(d.ok && d.exportError.isEmpty(), qPrintable(d.error + d.exportError));
    QCOMPARE(errors.size(), 0);
    QVERIFY(std::isfinite(d.result->eval.ppl) && d.result->eval.ppl > 1.0);
    const std::shared_ptr<Model> back = loadGgufModel(file);
    const std::unique_ptr<Tokenizer> tok = loadGgufTokenizer(file);
    EvalOptions eo;
    eo.seqlen = d.result->eval.seqlen;
    const EvalResult e = evaluatePerplexity(*back, tok->encodeForModel(loadText(slice)), eo);
    QCOMPARE(e.ppl, d.result->eval.ppl);
    // the window on real data, to look at (in the test's working directory)
    w.resize(1280, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QTest::qWait(50);
    QVERIFY(w.grab().save(QStringLiteral("real_model_window.png")));
    for (int tab : {1, 2}) {
        w.lowerTabs()->setCurrentIndex(tab);
        QTest::qWait(50);
        QVERIFY(w.lowerTabs()->grab().save(QStringLiteral("real_model_tab%1.png").arg(tab)));
    }
}

void TestViews::exportModelFromTheWindow() {
    // "Export model…": the table's recipe is quantized and evaluated as Run does,
    // then written and read back; the file's perplexity is the run's. A recipe
    // without an exact GGUF type keeps its run results but writes nothing and says why.
    QTemporaryDir dir;
    gui::MainWindowOptions o = smallOptions();
    o.databasePath = dir.filePath(QStringLiteral("log.sqlite"));
    gui::MainWindow w(o);
    QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
    QSignalSpy ended(&w, &gui::MainWindow::runEnded);
    QSignalSpy errors(&w, &gui::MainWindow::errorOccurred);
    w.loadDemo();
    QVERIFY(loaded.wait(120000));

    // the dialog: the default name follows the format, OK needs a path
    {
        gui::ExportModelDialog dlg(dir.path());
        QCOMPARE(dlg.format(), QStringLiteral("gguf"));
        QCOMPARE(dlg.path(), dir.path() + QStringLiteral("/model.gguf"));
        dlg.setFormat(QStringLiteral("gptq"));
        QCOMPARE(dlg.path(), dir.path() + QStringLiteral("/model-gptq"));
        dlg.setFormat(QStringLiteral("gguf"));
        QCOMPARE(dlg.requantizeTo(), QString());  // only with Re-quantize ticked
        dlg.setRequantizeTo(QStringLiteral("gguf_q8_0"));
        QCOMPARE(dlg.requantizeTo(), QString());
        dlg.setAllowRequantize(true);
        QCOMPARE(dlg.requantizeTo(), QStringLiteral("gguf_q8_0"));
        dlg.setFormat(QStringLiteral("gptq"));
        QCOMPARE(dlg.requantizeTo(), QString());  // GGUF only
        dlg.setFormat(QStringLiteral("gguf"));
        dlg.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dlg));
        QVERIFY(dlg.grab().save(QStringLiteral("export_dialog.png")));  // in the test's working directory, to look at
        dlg.setPath(QString());
        QVERIFY(!dlg.acceptable());
    }

    QList<int> all;
    for (int r = 0; r < w.tableModel()->rowCount(); ++r) all << r;
    QVERIFY(w.tableModel()->setFormats(all, fmt("gguf_q4_0")));
    const QString file = dir.filePath(QStringLiteral("demo-q4_0.gguf"));
    VerifiedExportRequest req;
    req.format = QStringLiteral("gguf");
    req.out = file;
    QVERIFY(w.exportModel(req) > 0);
    QVERIFY(ended.wait(300000));
    const gui::RunDone d = w.runQueue()->done().back();
    QVERIFY(d.ok && d.runId > 0);
    QVERIFY2(d.exportError.isEmpty(), qPrintable(d.exportError));
    QVERIFY2(d.exported.contains(QStringLiteral("identical")), qPrintable(d.exported));
    QVERIFY(!d.result->quant.model);  // the quantized copy is not kept after the run
    QCOMPARE(errors.size(), 0);
    QVERIFY(QFileInfo(file).isFile());
    {
        // every linear whose rows split into blocks of 32 is Q4_0 in the file
        const GgufFile g = openGguf(file);
        int q4 = 0;
        for (const GgufTensorInfo& t : g.tensors) q4 += t.type == gguf::GgmlType::Q4_0;
        QVERIFY2(q4 > 0, "no Q4_0 tensor in the file");
        // the file evaluates to the run's perplexity on the run's windows
        const std::shared_ptr<Model> back = loadGgufModel(file);
        const std::unique_ptr<Tokenizer> tok = loadGgufTokenizer(file);
        const std::string& text = *w.loaded()->demoText;
        const std::vector<int> ids = tok->encodeForModel(text);
        QCOMPARE(ids, w.loaded()->tokenizer->encodeForModel(text));
        gui::TextSource heldOut{QString(), w.loaded()->demoText, QString(), 0.5, 1.0};
        EvalOptions eo;
        eo.seqlen = d.result->eval.seqlen;
        const EvalResult e = evaluatePerplexity(*back, heldOut.tokens(*tok), eo);
        QCOMPARE(e.windows, d.result->eval.windows);
        QCOMPARE(e.ppl, d.result->eval.ppl);
    }
    {  // the log records what the run wrote
        const RunRecord rec = *w.store()->run(d.runId);
        QCOMPARE(rec.status, QStringLiteral("finished"));
        const QJsonObject ex = rec.params.value(QStringLiteral("export")).toObject();
        QCOMPARE(ex.value(QStringLiteral("format")).toString(), QStringLiteral("gguf"));
        QCOMPARE(ex.value(QStringLiteral("path")).toString(), file);
        QVERIFY(ex.value(QStringLiteral("written")).toBool());
        QCOMPARE(ex.value(QStringLiteral("summary")).toString(), d.exported);
        QCOMPARE(rec.params.value(QStringLiteral("command")).toString(), QStringLiteral("gui export"));
    }

    // int3 has no GGUF type: refused before anything runs, naming the layers
    QVERIFY(w.tableModel()->setFormats(all, fmt("int3-g128")));
    req.out = dir.filePath(QStringLiteral("int3.gguf"));
    QCOMPARE(w.exportModel(req), 0);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("model.layers.0.self_attn.q_proj (int3-g128)")),
             qPrintable(errors.last().at(1).toString()));
    QCOMPARE(w.jobModel()->rowCount(), 1);
    errors.clear();

    // a GPTQ checkpoint holds one configuration: mixed widths are refused up front too
    QVERIFY(w.tableModel()->setFormats(all, fmt("int4-g128-f16")));
    QVERIFY(w.tableModel()->setFormats({0}, fmt("int3-g128-f16")));
    req.format = QStringLiteral("gptq");
    req.out = dir.filePath(QStringLiteral("mixed-gptq"));
    QCOMPARE(w.exportModel(req), 0);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("one bits/group/sym configuration")),
             qPrintable(errors.last().at(1).toString()));
    errors.clear();

    // int4-g128 re-quantized onto Q8_0 when asked: written, each re-quantized tensor listed with its error
    QVERIFY(w.tableModel()->setFormats(all, fmt("int4-g128")));
    req.format = QStringLiteral("gguf");
    req.out = dir.filePath(QStringLiteral("requantized.gguf"));
    req.allowRequantize = true;
    req.requantizeTo = fmt("gguf_q8_0");
    QVERIFY(w.exportModel(req) > 0);
    QVERIFY(ended.wait(300000));
    {
        const gui::RunDone rq = w.runQueue()->done().back();
        QVERIFY2(rq.ok && rq.exportError.isEmpty(), qPrintable(rq.exportError));
        QVERIFY(rq.exportDetails.size() >= 30);
        QVERIFY2(rq.exportDetails.front().startsWith(QStringLiteral("re-quantized ")) && rq.exportDetails.front().contains(QStringLiteral("Q8_0")),
                 qPrintable(rq.exportDetails.front()));
        QVERIFY(openGguf(req.out).tensors.size() > 0);
    }
    req.allowRequantize = false;
    req.requantizeTo.reset();

    // an export that fails after the run (the file cannot be written): the run ends with its results,
    // the export says why, no file
    QVERIFY(w.tableModel()->setFormats(all, fmt("gguf_q8_0")));
    req.format = QStringLiteral("gguf");
    const QString bad = dir.filePath(QStringLiteral("no-such-dir/q8.gguf"));
    req.out = bad;
    QVERIFY(w.exportModel(req) > 0);
    QVERIFY(ended.wait(300000));
    const gui::RunDone f = w.runQueue()->done().back();
    QVERIFY(f.ok);
    QVERIFY(f.exported.isEmpty());
    QVERIFY2(f.exportError.contains(bad), qPrintable(f.exportError));
    QVERIFY(!QFileInfo::exists(bad));
    {  // logged as finished with its results, and the export's error
        const RunRecord rec = *w.store()->run(f.runId);
        QCOMPARE(rec.status, QStringLiteral("finished"));
        QCOMPARE(int(rec.datasets.size()), 1);
        const QJsonObject ex = rec.params.value(QStringLiteral("export")).toObject();
        QVERIFY(!ex.value(QStringLiteral("written")).toBool());
        QCOMPARE(ex.value(QStringLiteral("error")).toString(), f.exportError);
    }
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.last().at(0).toString(), QStringLiteral("The export failed"));
    {  // the history says which runs wrote a file
        w.refreshHistory();
        views::RunHistoryModel* h = w.historyView()->model();
        auto statusOf = [&](qint64 id) {
            for (int r = 0; r < h->rowCount(); ++r)
                if (h->index(r, views::RunHistoryModel::ColId).data().toLongLong() == id)
                    return h->index(r, views::RunHistoryModel::ColStatus).data().toString();
            return QString();
        };
        QCOMPARE(statusOf(d.runId), QStringLiteral("finished · GGUF written"));
        QCOMPARE(statusOf(f.runId), QStringLiteral("finished · export failed"));
    }
    QCOMPARE(w.jobModel()->rowCount(), 3);
    // a GPTQ checkpoint into a directory that is not empty: refused before anything runs
    req.format = QStringLiteral("gptq");
    req.out = dir.path();
    QCOMPARE(w.exportModel(req), 0);
    QCOMPARE(errors.size(), 2);
    QVERIFY2(errors.last().at(1).toString().contains(QStringLiteral("not an empty directory")), qPrintable(errors.last().at(1).toString()));
    QCOMPARE(w.jobModel()->rowCount(), 3);

    // the exported file opens in the window like any checkpoint, with its embedded tokenizer;
    // it is already quantized, so the table keeps it as loaded and Run evaluates it as it is
    const std::string demoText = *w.loaded()->demoText;
    QCOMPARE(w.historyView()->exportedModelPath(d.runId), file);  // the history knows the file a run wrote
    QCOMPARE(w.historyView()->exportedModelPath(f.runId), QString());
    QVERIFY(w.historyView()->openExportedModel(d.runId));
    QVERIFY(loaded.wait(120000));
    QCOMPARE(loaded.last().at(0).toBool(), true);
    QVERIFY(!w.loaded()->demo && w.loaded()->tokenizer);
    QCOMPARE(w.tableModel()->rowCount(), 42);
    QVERIFY2(w.loaded()->model->quantization.startsWith(QStringLiteral("GGUF: ")) &&
                 w.loaded()->model->quantization.contains(QStringLiteral("Q4_0")),
             qPrintable(w.loaded()->model->quantization));
    QVERIFY2(w.statusText().contains(QStringLiteral("already quantized")), qPrintable(w.statusText()));
    for (int r = 0; r < 42; ++r) QCOMPARE(w.tableModel()->index(r, views::LayerTableModel::ColMethod).data().toString(), QStringLiteral("none"));
    const QString textFile = dir.filePath(QStringLiteral("demo.txt"));
    {
        QFile tf(textFile);
        QVERIFY(tf.open(QIODevice::WriteOnly));
        tf.write(demoText.data(), qint64(demoText.size()));
    }
    w.setEvalPath(textFile);
    QVERIFY(w.runCurrent() > 0);
    QVERIFY(ended.wait(300000));
    const gui::RunDone asIs = w.runQueue()->done().back();
    QVERIFY2(asIs.ok, qPrintable(asIs.error));
    EvalOptions eo2;
    eo2.seqlen = asIs.result->eval.seqlen;
    const std::unique_ptr<Tokenizer> ftok = loadGgufTokenizer(file);
    QCOMPARE(asIs.result->eval.ppl, evaluatePerplexity(*loadGgufModel(file), ftok->encodeForModel(loadText(textFile)), eo2).ppl);
}

QTEST_MAIN(TestViews)
#include "test_views.moc"
