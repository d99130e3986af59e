#pragma once
// What opening a model produced (the main window's load job), shared read-only
// with the analysis and the run queue's worker threads.
#include <memory>
#include <string>

#include <QByteArray>
#include <QString>

#include "model/model.h"
#include "model/tokenizer.h"

namespace qs::gui {

struct LoadedModel {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Tokenizer> tokenizer;  // null when none was found (tokenizerError says why)
    QString tokenizerError;
    std::shared_ptr<const std::string> demoText;  // the demo's own text (its calibration and evaluation text)
    QByteArray demoTokenizer;  // the demo's llama2.c tokenizer.bin image (it has no file; exports embed it)
    bool demo = false;
    QString label;
    std::string hash;  // Model::contentHash(), for the experiment log
};

}  // namespace qs::gui
