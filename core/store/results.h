#pragma once
// Rows of the experiment log from core's results (core/store): what the GUI's run
// queue writes when a run ends. The CLI builds the same rows from its --json
// output (app/cli).
#include <optional>

#include "jobs/experiment.h"
#include "store/store.h"

namespace qs {

/// The log's record of one quantized layer: name, method, formats, bits, the
/// relative output error when calibration data was used; `extra` = LayerResult::toJson().
LayerResultRow layerResultRow(const LayerResult& r);
/// One evaluation: ppl, tokens, windows, seqlen; extra = fp_ppl / kl_mean /
/// top1_agreement when the run compared against the float model.
DatasetResultRow datasetResultRow(const QString& dataPath, const EvalResult& e);
/// A finished experiment: status finished, avg bits, timings (calibration,
/// transform, quantize, eval, total seconds), its evaluation and every layer.
RunOutcome experimentOutcome(const ExperimentResult& r, const QString& dataPath);

/// What a run's params record of an export (key "export"): the format, the path,
/// whether the file was written and checked, and its one-line summary or the error
struct RunExport {
    QString format, path, summary, error;
    bool written = false;
    /// What an export attempt gives: written when there is no error.
    static RunExport result(const QString& format, const QString& path, const QString& summary, const QString& error) {
        return RunExport{format, path, summary, error, error.isEmpty()};
    }
    /// {"format", "path", "written", "summary" | "error"}
    QJsonObject toJson() const;
    /// The params' "export" entry of a logged run, nullopt when it exported nothing.
    static std::optional<RunExport> of(const RunRecord& r);
    /// RunOutcome::params with this export recorded.
    QJsonObject asParams() const;
};

/// The experiment (curve) a logged run belongs to: its params' "experiment" when
/// set (GUI runs, `quantize --experiment`), else the recipe's default method,
/// with " (mixed)" when the recipe has per-layer overrides.
QString runExperimentName(const RunRecord& r);

}  // namespace qs
