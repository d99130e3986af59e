#include "verified_export.h"

#include <cstdio>

#include <QJsonDocument>

#include "export/gguf.h"
#include "export/gptq_packed.h"
#include "model/hf_loader.h"
#include "util/error.h"

namespace qs {

std::vector<PlannedLayer> plannedLayers(const Model& model, const Recipe& recipe) {
    std::vector<PlannedLayer> out;
    for (const Linear* l : model.linears()) {
        const LayerPlan p = recipe.planFor(l->name);
        out.push_back(PlannedLayer{l->name, p.method, p.weight, l->inFeatures, l->outFeatures});
    }
    // lm_head / the embedding table: only when the recipe quantizes them (else they stay float)
    const OuterPlans outer = recipe.outerPlans();
    auto quantized = [](const std::optional<LayerPlan>& p) { return p && p->method != QuantMethod::None && p->weight.kind != FormatKind::None; };
    if (quantized(outer.lmHead))
        out.push_back(PlannedLayer{kLmHeadName, outer.lmHead->method, outer.lmHead->weight, model.lmHead.logicalCols(),
                                   model.lmHead.logicalRows(), true});
    if (quantized(outer.embedTokens))
        out.push_back(PlannedLayer{kEmbedTokensName, outer.embedTokens->method, outer.embedTokens->weight,
                                   model.embedTokens.logicalCols(), model.embedTokens.logicalRows(), true});
    return out;
}

namespace {
QString qs8(const std::string& s) { return QString::fromStdString(s); }
}  // namespace

QStringList exportPlanProblems(const QString& format, const std::vector<PlannedLayer>& layers, bool allowRequantize) {
    QStringList problems;
    if (format == QLatin1String("gguf")) {
        if (allowRequantize) return problems;
        for (const PlannedLayer& l : layers) {
            if (l.method == QuantMethod::None) continue;  // float: F32
            if (l.method == QuantMethod::Mgptq)
                problems << QStringLiteral("%1 (MG-PTQ, widths per column group)").arg(qs8(l.name));
            else if (!exactGgufType(l.format, l.inFeatures))
                problems << QStringLiteral("%1 (%2)").arg(qs8(l.name), qs8(l.format.name()));
        }
        return problems;
    }
    if (format != QLatin1String("gptq")) return {QStringLiteral("unknown export format '%1' (expected gguf or gptq)").arg(format)};
    std::optional<QuantFormat> common;
    for (const PlannedLayer& l : layers) {
        if (l.outside) continue;  // written as evaluated (float tensors)
        if (l.method == QuantMethod::None || l.format.kind == FormatKind::None) {
            problems << QStringLiteral("%1 is not quantized").arg(qs8(l.name));
            continue;
        }
        if (l.method == QuantMethod::Mgptq) {
            problems << QStringLiteral("%1 is MG-PTQ: its widths vary per column group, a GPTQ checkpoint has one").arg(qs8(l.name));
            continue;
        }
        QuantFormat f = l.format;
        if (f.kind != FormatKind::Int) {
            problems << QStringLiteral("%1 (%2) is not an integer format").arg(qs8(l.name), qs8(f.name()));
            continue;
        }
        if (f.bits != 2 && f.bits != 3 && f.bits != 4 && f.bits != 8) {
            problems << QStringLiteral("%1 (%2): GPTQ checkpoints hold 2, 3, 4 or 8 bits").arg(qs8(l.name), qs8(f.name()));
            continue;
        }
        if (!f.fp16Scale && !allowRequantize) {
            problems << QStringLiteral("%1 (%2) has float32 scales; quantize in %3 (fp16 scales, what GPTQ checkpoints store) or "
                                       "pass --allow-requantize")
                            .arg(qs8(l.name), qs8(f.name()), qs8(f.name() + "-f16"));
            continue;
        }
        f.fp16Scale = true;
        if (common && !(*common == f)) {
            problems << QStringLiteral("%1 is %2 but other layers are %3: a GPTQ checkpoint has one bits/group/sym configuration")
                            .arg(qs8(l.name), qs8(l.format.name()), qs8(common->name()));
            continue;
        }
        common = f;
        if (!gptqPackable(l.inFeatures, f.bits) || !gptqPackable(l.outFeatures, f.bits))
            problems << QStringLiteral("%1 [%2 x %3] cannot be packed at %4 bits (in and out must be multiples of %5)")
                            .arg(qs8(l.name)).arg(l.outFeatures).arg(l.inFeatures).arg(f.bits).arg(f.bits == 3 ? 32 : 32 / f.bits);
    }
    if (layers.empty()) problems << QStringLiteral("the model has no linear layers");
    return problems;
}

void requireExportablePlan(const QString& format, const std::vector<PlannedLayer>& layers, bool allowRequantize) {
    const QStringList problems = exportPlanProblems(format, layers, allowRequantize);
    if (problems.isEmpty()) return;
    if (format == QLatin1String("gguf"))
        throw Error(QStringLiteral("GGUF export: no GGUF type stores these layers exactly as the recipe plans them: %1. Quantize "
                                   "them in gguf_q8_0, gguf_q4_0, gguf_q4_1, mxfp4 or fp16, or pass --allow-requantize to "
                                   "re-quantize them with RTN (the added error is reported per tensor)")
                        .arg(problems.join(QStringLiteral(", "))));
    throw Error(QStringLiteral("GPTQ-packed export: %1").arg(problems.join(QStringLiteral("; "))));
}

ReadBackCheck compareReadBack(const Model& back, const Model& q, const std::set<std::string>& requantized) {
    ReadBackCheck c;
    auto check = [&](const std::string& name, const auto& a, const auto& b) {
        ++c.checked;
        const bool same = a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
        if (same) ++c.identical;
        else if (!requantized.count(name)) c.mismatched.append(QString::fromStdString(name));
    };
    check(kEmbedTokensName, back.embedOverride ? *back.embedOverride : back.embedTokens.matrix(),
          q.embedOverride ? *q.embedOverride : q.embedTokens.matrix());
    check(kLmHeadName, back.lmHead.matrix(), q.lmHeadOverride ? *q.lmHeadOverride : q.lmHead.matrix());
    for (size_t bi = 0; bi < q.blocks.size(); ++bi) {
        check(q.blocks[bi].prefix + ".input_layernorm", back.blocks[bi].attnNorm.weightVector(), q.blocks[bi].attnNorm.weightVector());
        check(q.blocks[bi].prefix + ".post_attention_layernorm", back.blocks[bi].mlpNorm.weightVector(), q.blocks[bi].mlpNorm.weightVector());
        for (size_t k = 0; k < q.blocks[bi].linears.size(); ++k) {
            const Linear& a = back.blocks[bi].linears[k];
            const Linear& b = q.blocks[bi].linears[k];
            check(b.name, a.weightMatrix(), b.weightMatrix());
            if (b.bias || b.biasOverride) check(b.name + ".bias", a.biasVector(), b.biasVector());
        }
    }
    check("model.norm", back.finalNorm.weightVector(), q.finalNorm.weightVector());
    return c;
}

namespace {

/// The written file loaded back (`back`) against the evaluated weights; an error
/// when a tensor that was not re-quantized differs.
VerifiedExport readBackAndCompare(std::shared_ptr<Model> back, const Model& q, const std::set<std::string>& requantized,
                                  const QString& out) {
    VerifiedExport v;
    v.readBack = std::move(back);
    v.check = compareReadBack(*v.readBack, q, requantized);
    if (!v.check.mismatched.isEmpty())
        throw Error(QStringLiteral("%1: read back, these tensors differ from the evaluated weights: %2 (please report this)")
                        .arg(out, QString::fromUtf8(QJsonDocument(v.check.mismatched).toJson(QJsonDocument::Compact))));
    return v;
}

std::string fmt(const char* f, auto... a) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, a...);
    return buf;
}

VerifiedExport exportGptq(const Model& q, const std::vector<LayerResult>& layers, const Tokenizer& tok,
                          const VerifiedExportRequest& req, const JobContext& ctx) {
    if (req.requantizeTo) throw Error(QStringLiteral("re-quantizing to a GGUF type applies to GGUF export, not GPTQ"));
    GptqPackedOptions o;
    o.allowRequantize = req.allowRequantize;
    o.recipe = req.recipe;
    o.ctx = ctx.sub(0.0, 0.7);
    std::map<QString, QByteArray> raw;
    if (tok.sourceFiles.isEmpty() && !req.inMemoryTokenizer.isEmpty()) raw[QStringLiteral("tokenizer.bin")] = req.inMemoryTokenizer;
    const GptqPackedResult r = exportGptqPacked(q, layers, req.out, tok.sourceFiles, raw, o);
    ctx.report(0.7, "reading the checkpoint back");
    std::set<std::string> requant;
    for (const auto& x : r.layers)
        if (x.requantized) requant.insert(x.name);
    VerifiedExport v = readBackAndCompare(loadModel(req.out), q, requant, req.out);
    v.json = r.toJson();
    v.summary = QString::fromStdString(fmt("exported %s: GPTQ-packed %d bits, group %d, %s%s; %lld tensors read back and compared (%lld identical)",
                                           req.out.toStdString().c_str(), r.bits, r.groupSize, r.sym ? "sym" : "asym",
                                           r.descAct ? ", desc_act" : "", (long long)v.check.checked, (long long)v.check.identical));
    for (const auto& x : r.layers)
        if (x.requantized) v.details.push_back(fmt("re-quantized %-40s %-14s relative error %.6g", x.name.c_str(), x.format.c_str(), x.relError));
    return v;
}

VerifiedExport exportGgufChecked(const Model& q, const std::vector<LayerResult>& layers, const Tokenizer& tok,
                                 const VerifiedExportRequest& req, const JobContext& ctx) {
    TokenizerSource src;
    if (!tok.sourceFiles.isEmpty()) {
        src = tokenizerSourceFromFiles(tok.sourceFiles);
    } else if (!req.inMemoryTokenizer.isEmpty()) {
        src.kind = TokenizerSource::Kind::Llama2c;
        src.data = req.inMemoryTokenizer;
        src.label = QStringLiteral("the demo's tokenizer");
    }
    GgufExportOptions o;
    o.allowRequantize = req.allowRequantize;
    if (req.requantizeTo && !o.allowRequantize) throw Error(QStringLiteral("re-quantizing to a GGUF type needs allow-requantize"));
    if (req.requantizeTo && !req.requantizeTo->isGguf())
        throw Error(QStringLiteral("re-quantize target: expected gguf_q8_0, gguf_q4_0 or gguf_q4_1, found '%1'")
                        .arg(QString::fromStdString(req.requantizeTo->name())));
    o.requantizeTo = req.requantizeTo;
    o.recipe = req.recipe;
    o.ctx = ctx.sub(0.0, 0.7);
    const GgufExportResult r = exportGguf(q, layers, tok, src, req.out, o);
    ctx.report(0.7, "reading the file back");
    std::set<std::string> requant;
    for (const GgufTensorReport& t : r.tensors)
        if (t.requantized) requant.insert(t.source);
    VerifiedExport v = readBackAndCompare(loadGgufModel(req.out), q, requant, req.out);
    v.json = r.toJson();
    v.summary = QString::fromStdString(fmt("exported %s: %lld bytes, %s, %lld tensors read back and compared (%lld identical to the evaluated weights)",
                                           req.out.toStdString().c_str(), (long long)r.fileBytes, r.fileType.c_str(),
                                           (long long)v.check.checked, (long long)v.check.identical));
    for (const GgufTensorReport& t : r.tensors)
        if (t.requantized)
            v.details.push_back(fmt("re-quantized %-28s %-10s -> %-5s relative error %.6g", t.name.c_str(), t.format.c_str(), t.type.c_str(), t.relError));
    for (const std::string& w : r.warnings) v.details.push_back("warning: " + w);
    return v;
}

}  // namespace

VerifiedExport exportVerified(const Model& quantized, const std::vector<LayerResult>& layers, const Tokenizer& tokenizer,
                              const VerifiedExportRequest& req, const JobContext& ctx) {
    if (req.out.isEmpty()) throw Error(QStringLiteral("the output path is empty"));
    VerifiedExport v;
    if (req.format == QLatin1String("gptq")) v = exportGptq(quantized, layers, tokenizer, req, ctx);
    else if (req.format == QLatin1String("gguf")) v = exportGgufChecked(quantized, layers, tokenizer, req, ctx);
    else throw Error(QStringLiteral("export format: expected gguf or gptq, found '%1'").arg(req.format));
    v.json.insert(QStringLiteral("tensors_checked"), qint64(v.check.checked));
    v.json.insert(QStringLiteral("tensors_identical"), qint64(v.check.identical));
    ctx.report(1.0, "exported");
    return v;
}

}  // namespace qs
