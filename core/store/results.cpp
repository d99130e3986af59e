#include "store/results.h"

#include <cmath>

namespace qs {

LayerResultRow layerResultRow(const LayerResult& r) {
    LayerResultRow row;
    row.layerName = QString::fromStdString(r.name);
    row.block = r.block;
    row.method = QString::fromStdString(r.methodName.empty() ? std::string(quantMethodName(r.method)) : r.methodName);
    row.format = QString::fromStdString(r.format.name());
    row.aformat = QString::fromStdString(r.activation.kind == FormatKind::None ? std::string("none") : r.activation.name());
    row.bitsPerWeight = r.bitsPerWeight;
    row.params = r.params;
    if (std::isfinite(r.relOutputError)) row.outputError = r.relOutputError;
    row.seconds = r.seconds;
    row.extra = r.toJson();
    return row;
}

DatasetResultRow datasetResultRow(const QString& dataPath, const EvalResult& e) {
    DatasetResultRow d;
    d.dataPath = dataPath;
    d.ppl = e.ppl;
    d.tokens = e.tokens;
    d.windows = e.windows;
    d.seqlen = e.seqlen;
    if (e.klMean) {
        d.extra.insert(QStringLiteral("fp_ppl"), *e.referencePpl);
        d.extra.insert(QStringLiteral("kl_mean"), *e.klMean);
        d.extra.insert(QStringLiteral("top1_agreement"), *e.top1Agreement);
    }
    return d;
}

RunOutcome experimentOutcome(const ExperimentResult& r, const QString& dataPath) {
    RunOutcome o;
    o.status = QStringLiteral("finished");
    o.avgBits = r.quant.avgBits;
    o.timings = QJsonObject{{"calibration_seconds", r.quant.calibrationSeconds},
                            {"transform_seconds", r.quant.transformSeconds},
                            {"quantize_seconds", r.quant.quantizeSeconds},
                            {"eval_seconds", r.eval.seconds},
                            {"total_seconds", r.seconds}};
    o.datasets.push_back(datasetResultRow(dataPath, r.eval));
    for (const LayerResult& l : r.quant.layers) o.layers.push_back(layerResultRow(l));
    return o;
}

QString runExperimentName(const RunRecord& r) {
    const QString e = r.params.value(QStringLiteral("experiment")).toString().trimmed();
    if (!e.isEmpty()) return e;
    const QStringList parts = r.recipeSummary.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (parts.isEmpty()) return QStringLiteral("unnamed");
    return r.recipeSummary.contains(QLatin1String("override")) ? parts.front() + QStringLiteral(" (mixed)") : parts.front();
}

QJsonObject RunExport::toJson() const {
    QJsonObject o{{QStringLiteral("format"), format}, {QStringLiteral("path"), path}, {QStringLiteral("written"), written}};
    if (written) o.insert(QStringLiteral("summary"), summary);
    else o.insert(QStringLiteral("error"), error);
    return o;
}

QJsonObject RunExport::asParams() const { return QJsonObject{{QStringLiteral("export"), toJson()}}; }

std::optional<RunExport> RunExport::of(const RunRecord& r) {
    const QJsonObject o = r.params.value(QStringLiteral("export")).toObject();
    if (o.isEmpty()) return std::nullopt;
    return RunExport{o.value(QStringLiteral("format")).toString(), o.value(QStringLiteral("path")).toString(),
                     o.value(QStringLiteral("summary")).toString(), o.value(QStringLiteral("error")).toString(),
                     o.value(QStringLiteral("written")).toBool()};
}

}  // namespace qs
