#include "recipe/recipe.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonValue>
#include <QLocale>
#include <QStringList>

#include "util/error.h"

namespace qs {

namespace {

const QString kVersionKey = QStringLiteral("quantscope_recipe");
const QStringList kTopKeys = {kVersionKey, QStringLiteral("description"), QStringLiteral("defaults"),
                              QStringLiteral("calibration"), QStringLiteral("layers"), QStringLiteral("lm_head"),
                              QStringLiteral("embed_tokens")};
const QStringList kGptqKeys = {QStringLiteral("act_order"), QStringLiteral("static_groups"), QStringLiteral("damp"),
                               QStringLiteral("block_size")};
const QStringList kLmHeadKeys = QStringList{QStringLiteral("method"), QStringLiteral("wformat"), QStringLiteral("aformat")} + kGptqKeys;
const QStringList kEmbedKeys = {QStringLiteral("method"), QStringLiteral("wformat")};
const QStringList kSettingKeys = {QStringLiteral("method"),        QStringLiteral("wformat"), QStringLiteral("act_order"),
                                  QStringLiteral("static_groups"), QStringLiteral("damp"),    QStringLiteral("block_size"),
                                  QStringLiteral("aformat"),       QStringLiteral("smoothquant_alpha"), QStringLiteral("awq_grid"),
                                  QStringLiteral("awq_clip"),      QStringLiteral("awq_max_shrink"),    QStringLiteral("awq_tokens"),
                                  QStringLiteral("mgptq_bits"),    QStringLiteral("mgptq_choices"),     QStringLiteral("mgptq_seed"),
                                  QStringLiteral("mgptq_loss")};
const QStringList kPatternKeys = {QStringLiteral("match"), QStringLiteral("regex")};
const QStringList kCalibKeys = {QStringLiteral("nsamples"), QStringLiteral("seqlen"), QStringLiteral("seed")};
const char* kFormatsExpected =
    "expected int<B>[-sym][-g<G>] with B in 2..8 (e.g. int4, int3-sym-g128), mxint8, mxint4, mxfp8_e4m3, "
    "mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, fp16, gguf_q8_0, gguf_q4_0 or gguf_q4_1";

/// How a JSON value reads in a message.
QString found(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Null: return QStringLiteral("null");
    case QJsonValue::Bool: return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double: return QString::number(v.toDouble(), 'g', QLocale::FloatingPointShortest);
    case QJsonValue::String: return QStringLiteral("\"%1\"").arg(v.toString());
    case QJsonValue::Array: return QStringLiteral("an array");
    case QJsonValue::Object: return QStringLiteral("an object");
    case QJsonValue::Undefined: break;
    }
    return QStringLiteral("nothing");
}

int editDistance(const QString& a, const QString& b) {
    std::vector<int> prev(size_t(b.size()) + 1), cur(prev.size());
    for (size_t j = 0; j < prev.size(); ++j) prev[j] = int(j);
    for (int i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (int j = 1; j <= b.size(); ++j)
            cur[size_t(j)] = std::min({prev[size_t(j)] + 1, cur[size_t(j - 1)] + 1,
                                       prev[size_t(j - 1)] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[size_t(b.size())];
}

struct Ctx {
    QStringList problems;
    void add(const QString& path, const QString& msg) { problems << (path.isEmpty() ? msg : path + QStringLiteral(": ") + msg); }
};

QString join(const QString& path, const QString& key) { return path.isEmpty() ? key : path + QLatin1Char('.') + key; }

void checkKeys(const QJsonObject& o, const QString& path, const QStringList& valid, Ctx& ctx) {
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (valid.contains(it.key())) continue;
        QString msg = QStringLiteral("unknown key \"%1\"").arg(it.key());
        QString best;
        int bestD = 3;
        for (const QString& k : valid) {
            const int d = editDistance(it.key().toLower(), k);
            if (d < bestD) { bestD = d; best = k; }
        }
        if (!best.isEmpty()) msg += QStringLiteral(" (did you mean \"%1\"?)").arg(best);
        msg += QStringLiteral("; valid keys: ") + valid.join(QStringLiteral(", "));
        ctx.add(join(path, it.key()), msg);
    }
}

std::optional<bool> readBool(const QJsonObject& o, const QString& key, const QString& path, Ctx& ctx) {
    if (!o.contains(key)) return std::nullopt;
    const QJsonValue v = o.value(key);
    if (!v.isBool()) {
        ctx.add(join(path, key), QStringLiteral("expected true or false, found %1").arg(found(v)));
        return std::nullopt;
    }
    return v.toBool();
}

/// An integer in [lo, hi] (JSON numbers are doubles: integral values only).
std::optional<int64_t> readInt(const QJsonObject& o, const QString& key, const QString& path, int64_t lo, int64_t hi,
                               Ctx& ctx) {
    if (!o.contains(key)) return std::nullopt;
    const QJsonValue v = o.value(key);
    const double d = v.toDouble();
    if (!v.isDouble() || !std::isfinite(d) || d != std::floor(d) || d < double(lo) || d > double(hi)) {
        ctx.add(join(path, key), QStringLiteral("expected an integer in [%1, %2], found %3").arg(lo).arg(hi).arg(found(v)));
        return std::nullopt;
    }
    return int64_t(d);
}

std::optional<QString> readString(const QJsonObject& o, const QString& key, const QString& path, Ctx& ctx,
                                  const QString& expected) {
    if (!o.contains(key)) return std::nullopt;
    const QJsonValue v = o.value(key);
    if (!v.isString()) {
        ctx.add(join(path, key), QStringLiteral("expected %1, found %2").arg(expected, found(v)));
        return std::nullopt;
    }
    return v.toString();
}

/// The settings keys of `defaults` or one override entry, with their cross-key rules.
/// `defaults`: the parsed defaults (null while reading them).
RecipeSettings readSettings(const QJsonObject& o, const QString& path, bool isDefaults, Ctx& ctx, const LayerPlan* defaults) {
    RecipeSettings s;
    if (auto m = readString(o, QStringLiteral("method"), path, ctx, QStringLiteral("a method name (e.g. gptq, awq, smoothquant+gptq)"))) {
        LayerPlan p;
        const std::string err = parseMethodInto(m->toStdString(), p);
        if (!err.empty()) {
            ctx.add(join(path, QStringLiteral("method")), QString::fromStdString(err));
        } else {
            s.method = p.method;
            s.smoothQuant = p.smoothQuant;
            s.awq = p.awq;
        }
    }
    if (auto w = readString(o, QStringLiteral("wformat"), path, ctx, QStringLiteral("a format name"))) {
        const auto f = QuantFormat::parse(w->toStdString());
        if (!f)
            ctx.add(join(path, QStringLiteral("wformat")), QStringLiteral("unknown format '%1'; %2").arg(*w, QLatin1String(kFormatsExpected)));
        else if (f->kind == FormatKind::None)
            ctx.add(join(path, QStringLiteral("wformat")),
                    QStringLiteral("'%1' is not a quantized format; use \"method\": \"none\" to keep layers unquantized").arg(*w));
        else s.wformat = *f;
    }
    s.actOrder = readBool(o, QStringLiteral("act_order"), path, ctx);
    s.staticGroups = readBool(o, QStringLiteral("static_groups"), path, ctx);
    if (o.contains(QStringLiteral("damp"))) {
        const QJsonValue v = o.value(QStringLiteral("damp"));
        if (!v.isDouble() || !(v.toDouble() >= 0.0 && v.toDouble() <= 1.0))
            ctx.add(join(path, QStringLiteral("damp")), QStringLiteral("expected a number in [0, 1], found %1").arg(found(v)));
        else s.damp = v.toDouble();
    }
    if (auto b = readInt(o, QStringLiteral("block_size"), path, 1, 1 << 20, ctx)) s.blockSize = int(*b);
    if (auto a = readString(o, QStringLiteral("aformat"), path, ctx, QStringLiteral("a format name"))) {
        const auto f = QuantFormat::parse(a->toStdString());
        if (!f || (f->kind == FormatKind::Int && f->groupSize > 0))
            ctx.add(join(path, QStringLiteral("aformat")),
                    QStringLiteral("unknown activation format '%1'; expected none, int8 (per token; int<B> for 2..8 bits, "
                                   "no groups), mxint8, mxint4, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3 or mxfp4")
                        .arg(*a));
        else
            s.aformat = *f;
    }
    if (o.contains(QStringLiteral("smoothquant_alpha"))) {
        const QJsonValue v = o.value(QStringLiteral("smoothquant_alpha"));
        if (!v.isDouble() || !(v.toDouble() >= 0.0 && v.toDouble() <= 1.0))
            ctx.add(join(path, QStringLiteral("smoothquant_alpha")), QStringLiteral("expected a number in [0, 1], found %1").arg(found(v)));
        else s.smoothAlpha = v.toDouble();
    }
    if (auto g = readInt(o, QStringLiteral("awq_grid"), path, 1, 1000, ctx)) s.awqGrid = int(*g);
    s.awqClip = readBool(o, QStringLiteral("awq_clip"), path, ctx);
    if (o.contains(QStringLiteral("awq_max_shrink"))) {
        const QJsonValue v = o.value(QStringLiteral("awq_max_shrink"));
        if (!v.isDouble() || !(v.toDouble() > 0.0 && v.toDouble() < 1.0))
            ctx.add(join(path, QStringLiteral("awq_max_shrink")), QStringLiteral("expected a number in (0, 1), found %1").arg(found(v)));
        else s.awqMaxShrink = v.toDouble();
    }
    if (auto t = readInt(o, QStringLiteral("awq_tokens"), path, 1, 1 << 24, ctx)) s.awqTokens = int(*t);
    if (o.contains(QStringLiteral("mgptq_bits"))) {
        const QJsonValue v = o.value(QStringLiteral("mgptq_bits"));
        if (!v.isDouble() || !(v.toDouble() > 0.0 && v.toDouble() <= 32.0))
            ctx.add(join(path, QStringLiteral("mgptq_bits")),
                    QStringLiteral("expected the average bits per weight (scales included), a number in (0, 32], found %1").arg(found(v)));
        else s.mgptqBits = v.toDouble();
    }
    if (o.contains(QStringLiteral("mgptq_choices"))) {
        const QJsonValue v = o.value(QStringLiteral("mgptq_choices"));
        const QString p = join(path, QStringLiteral("mgptq_choices"));
        const QString expected = QStringLiteral("expected a non-empty array of distinct bit widths in 2..8 (e.g. [2, 3, 4])");
        if (!v.isArray() || v.toArray().isEmpty()) {
            ctx.add(p, QStringLiteral("%1, found %2").arg(expected, found(v)));
        } else {
            std::vector<int> c;
            bool ok = true;
            for (const QJsonValue& e : v.toArray()) {
                const double d = e.toDouble();
                if (!e.isDouble() || d != std::floor(d) || d < 2 || d > 8) {
                    ctx.add(p, QStringLiteral("%1, found %2 in the array").arg(expected, found(e)));
                    ok = false;
                    break;
                }
                if (std::find(c.begin(), c.end(), int(d)) != c.end()) {
                    ctx.add(p, QStringLiteral("%1; %2 appears twice").arg(expected).arg(int(d)));
                    ok = false;
                    break;
                }
                c.push_back(int(d));
            }
            std::sort(c.begin(), c.end());
            if (ok) s.mgptqChoices = c;
        }
    }
    if (auto t = readInt(o, QStringLiteral("mgptq_seed"), path, 0, int64_t(1) << 53, ctx)) s.mgptqSeed = uint64_t(*t);
    if (auto l = readString(o, QStringLiteral("mgptq_loss"), path, ctx, QStringLiteral("\"gptq\" or \"rtn\""))) {
        if (*l == QLatin1String("gptq")) s.mgptqLoss = MgptqLoss::Gptq;
        else if (*l == QLatin1String("rtn")) s.mgptqLoss = MgptqLoss::Rtn;
        else ctx.add(join(path, QStringLiteral("mgptq_loss")), QStringLiteral("expected \"gptq\" or \"rtn\", found \"%1\"").arg(*l));
    }
    // Cross-key rules within this one object. For defaults the method is the
    // built-in gptq when absent; an override without "method" inherits, so only
    // an explicit method without the step conflicts with the step's options.
    const bool explicitMethod = s.method.has_value();
    LayerPlan mp = defaultRecipePlan();
    if (explicitMethod) mp.method = *s.method, mp.smoothQuant = *s.smoothQuant, mp.awq = *s.awq;
    auto conflicts = [&](std::initializer_list<const char*> keys, bool stepOn, const char* step) {
        if (stepOn || (!isDefaults && !explicitMethod)) return;
        for (const char* k : keys)
            if (o.contains(QLatin1String(k)))
                ctx.add(join(path, QLatin1String(k)), QStringLiteral("applies to methods with %1 only, but %2 is %3")
                                                           .arg(QLatin1String(step), join(path, QStringLiteral("method")),
                                                                QString::fromStdString(planMethodName(mp))));
    };
    conflicts({"act_order", "static_groups", "damp", "block_size"}, usesGptq(mp.method), "gptq, boa or mgptq");
    conflicts({"mgptq_bits", "mgptq_choices", "mgptq_seed", "mgptq_loss"}, mp.method == QuantMethod::Mgptq, "mgptq");
    if (mp.method == QuantMethod::Mgptq && (isDefaults || explicitMethod)) {
        // MG-PTQ needs its target here or inherited from the defaults, and a grouped integer format
        if (!s.mgptqBits && !(defaults && defaults->method == QuantMethod::Mgptq && defaults->mgptq.targetBits > 0))
            ctx.add(join(path, QStringLiteral("mgptq_bits")),
                    QStringLiteral("missing; method %1 needs the average bits per weight (scales included), e.g. \"mgptq_bits\": 2.5")
                        .arg(QString::fromStdString(planMethodName(mp))));
        const std::optional<QuantFormat> wf = s.wformat ? s.wformat : (isDefaults ? std::optional<QuantFormat>(defaultRecipePlan().weight) : std::nullopt);
        if (wf && (wf->kind != FormatKind::Int || wf->groupSize <= 0))
            ctx.add(join(path, QStringLiteral("wformat")),
                    QStringLiteral("%1 method %2 allocates bits per group of input columns; expected a grouped integer format such as "
                                   "int3-g64 (its group size and symmetry are used, its width is not)")
                        .arg(s.wformat ? QStringLiteral("'%1' does not suit:").arg(QString::fromStdString(wf->name()))
                                       : QStringLiteral("missing (the built-in int4 has no groups);"),
                             QString::fromStdString(planMethodName(mp))));
        if (s.actOrder.value_or(false) && !s.staticGroups.value_or(false) && (isDefaults || o.contains(QStringLiteral("static_groups"))))
            ctx.add(join(path, QStringLiteral("act_order")),
                    QStringLiteral("method mgptq with act_order needs \"static_groups\": true (each group's grid is fixed before the columns "
                                   "are permuted)"));
    }
    conflicts({"smoothquant_alpha"}, mp.smoothQuant, "smoothquant");
    conflicts({"awq_grid", "awq_clip", "awq_max_shrink", "awq_tokens"}, mp.awq, "awq");
    const QuantMethod m = mp.method;
    if (!isDefaults && m == QuantMethod::None && o.contains(QStringLiteral("wformat")))
        ctx.add(join(path, QStringLiteral("wformat")),
                QStringLiteral("method %1 keeps the layer unquantized; remove wformat or choose rtn/gptq")
                    .arg(QString::fromStdString(planMethodName(mp))));
    return s;
}

void apply(LayerPlan& p, const RecipeSettings& s) {
    if (s.method) p.method = *s.method, p.smoothQuant = *s.smoothQuant, p.awq = *s.awq;
    if (s.smoothAlpha) p.smooth.alpha = *s.smoothAlpha;
    if (s.awqGrid) p.awqOpt.grid = *s.awqGrid;
    if (s.awqClip) p.awqOpt.clip = *s.awqClip;
    if (s.awqMaxShrink) p.awqOpt.maxShrink = *s.awqMaxShrink;
    if (s.awqTokens) p.awqOpt.tokens = *s.awqTokens;
    if (s.wformat) p.weight = *s.wformat;
    if (s.actOrder) p.gptq.actOrder = *s.actOrder;
    if (s.staticGroups) p.gptq.staticGroups = *s.staticGroups;
    if (s.damp) p.gptq.percDamp = *s.damp;
    if (s.blockSize) p.gptq.blockSize = *s.blockSize;
    if (s.aformat) p.activation = *s.aformat;
    if (s.mgptqBits) p.mgptq.targetBits = *s.mgptqBits;
    if (s.mgptqChoices) p.mgptq.choices = *s.mgptqChoices;
    if (s.mgptqSeed) p.mgptq.seed = *s.mgptqSeed;
    if (s.mgptqLoss) p.mgptq.loss = *s.mgptqLoss;
}

/// Glob -> anchored regular expression: '*' any run (dots included), '?' one character.
QString globToRegex(const QString& glob) {
    QString rx;
    for (const QChar c : glob) {
        if (c == QLatin1Char('*')) rx += QStringLiteral(".*");
        else if (c == QLatin1Char('?')) rx += QLatin1Char('.');
        else rx += QRegularExpression::escape(QString(c));
    }
    return QRegularExpression::anchoredPattern(rx);
}

QJsonArray choicesJson(const std::vector<int>& c) {
    QJsonArray a;
    for (int b : c) a.append(b);
    return a;
}

QJsonObject settingsJson(const RecipeSettings& s) {
    QJsonObject o;
    if (s.method) {
        LayerPlan p;
        p.method = *s.method, p.smoothQuant = *s.smoothQuant, p.awq = *s.awq;
        o.insert(QStringLiteral("method"), QString::fromStdString(planMethodName(p)));
    }
    if (s.smoothAlpha) o.insert(QStringLiteral("smoothquant_alpha"), *s.smoothAlpha);
    if (s.awqGrid) o.insert(QStringLiteral("awq_grid"), *s.awqGrid);
    if (s.awqClip) o.insert(QStringLiteral("awq_clip"), *s.awqClip);
    if (s.awqMaxShrink) o.insert(QStringLiteral("awq_max_shrink"), *s.awqMaxShrink);
    if (s.awqTokens) o.insert(QStringLiteral("awq_tokens"), *s.awqTokens);
    if (s.wformat) o.insert(QStringLiteral("wformat"), QString::fromStdString(s.wformat->name()));
    if (s.actOrder) o.insert(QStringLiteral("act_order"), *s.actOrder);
    if (s.staticGroups) o.insert(QStringLiteral("static_groups"), *s.staticGroups);
    if (s.damp) o.insert(QStringLiteral("damp"), *s.damp);
    if (s.blockSize) o.insert(QStringLiteral("block_size"), *s.blockSize);
    if (s.aformat) o.insert(QStringLiteral("aformat"), QString::fromStdString(s.aformat->kind == FormatKind::None ? std::string("none") : s.aformat->name()));
    if (s.mgptqBits) o.insert(QStringLiteral("mgptq_bits"), *s.mgptqBits);
    if (s.mgptqChoices) o.insert(QStringLiteral("mgptq_choices"), choicesJson(*s.mgptqChoices));
    if (s.mgptqSeed) o.insert(QStringLiteral("mgptq_seed"), double(*s.mgptqSeed));
    if (s.mgptqLoss) o.insert(QStringLiteral("mgptq_loss"), QLatin1String(mgptqLossName(*s.mgptqLoss)));
    return o;
}

}  // namespace

bool RecipeSettings::empty() const {
    return !method && !wformat && !actOrder && !staticGroups && !damp && !blockSize && !aformat && !smoothAlpha && !awqGrid &&
           !awqClip && !awqMaxShrink && !awqTokens && !mgptqBits && !mgptqChoices && !mgptqSeed && !mgptqLoss;
}

bool RecipeOverride::matches(const std::string& layerName) const {
    return re.match(QString::fromStdString(layerName)).hasMatch();
}

QString RecipeOverride::describe(int index) const {
    return QStringLiteral("layers[%1] (%2 '%3')").arg(index).arg(isRegex ? QStringLiteral("regex") : QStringLiteral("match"), pattern);
}

LayerPlan defaultRecipePlan() {
    LayerPlan p;
    p.method = QuantMethod::Gptq;
    p.weight = *QuantFormat::parse("int4");
    p.gptq = GptqOptions{};
    return p;
}

Recipe Recipe::parse(const QByteArray& json, const QString& label) {
    auto fail = [&](const QStringList& problems) {
        QStringList lines;
        for (const QString& p : problems) lines << label + QStringLiteral(": ") + p;
        throw Error(lines.join(QLatin1Char('\n')));
    };
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError) {
        const QByteArray head = json.left(pe.offset);
        const int line = int(head.count('\n')) + 1;
        const int col = int(pe.offset - (head.lastIndexOf('\n') + 1)) + 1;
        fail({QStringLiteral("invalid JSON at line %1, column %2: %3").arg(line).arg(col).arg(pe.errorString())});
    }
    if (!doc.isObject()) fail({QStringLiteral("expected a JSON object at the top level")});
    const QJsonObject root = doc.object();

    Ctx ctx;
    if (!root.contains(kVersionKey)) {
        ctx.add(kVersionKey, QStringLiteral("missing; a recipe starts with \"quantscope_recipe\": %1 (the schema version)").arg(kVersion));
    } else {
        const QJsonValue v = root.value(kVersionKey);
        const double d = v.toDouble();
        if (!v.isDouble() || d != std::floor(d) || d < 1 || d > 1e9)
            ctx.add(kVersionKey, QStringLiteral("expected the schema version %1, found %2").arg(kVersion).arg(found(v)));
        else if (int(d) != kVersion)
            // A different schema: the rest would only produce noise.
            fail({QStringLiteral("%1: unsupported version %2 (this build reads %3)").arg(kVersionKey).arg(int(d)).arg(kVersion)});
    }
    checkKeys(root, QString(), kTopKeys, ctx);

    Recipe r;
    r.defaults_ = defaultRecipePlan();
    if (auto d = readString(root, QStringLiteral("description"), QString(), ctx, QStringLiteral("a string"))) r.description_ = *d;

    if (root.contains(QStringLiteral("defaults"))) {
        const QJsonValue v = root.value(QStringLiteral("defaults"));
        if (!v.isObject()) {
            ctx.add(QStringLiteral("defaults"), QStringLiteral("expected an object, found %1").arg(found(v)));
        } else {
            const QJsonObject o = v.toObject();
            checkKeys(o, QStringLiteral("defaults"), kSettingKeys, ctx);
            apply(r.defaults_, readSettings(o, QStringLiteral("defaults"), true, ctx, nullptr));
        }
    }

    if (root.contains(QStringLiteral("calibration"))) {
        const QJsonValue v = root.value(QStringLiteral("calibration"));
        if (!v.isObject()) {
            ctx.add(QStringLiteral("calibration"), QStringLiteral("expected an object, found %1").arg(found(v)));
        } else {
            const QJsonObject o = v.toObject();
            const QString path = QStringLiteral("calibration");
            checkKeys(o, path, kCalibKeys, ctx);
            if (auto n = readInt(o, QStringLiteral("nsamples"), path, 1, 1 << 24, ctx)) r.nsamples_ = int(*n);
            if (auto n = readInt(o, QStringLiteral("seqlen"), path, 2, 1 << 24, ctx)) r.seqlen_ = int(*n);
            if (auto n = readInt(o, QStringLiteral("seed"), path, 0, int64_t(1) << 53, ctx)) r.seed_ = uint64_t(*n);
        }
    }

    if (root.contains(QStringLiteral("layers"))) {
        const QJsonValue v = root.value(QStringLiteral("layers"));
        if (!v.isArray()) {
            ctx.add(QStringLiteral("layers"), QStringLiteral("expected an array of override objects, found %1").arg(found(v)));
        } else {
            const QJsonArray a = v.toArray();
            for (int i = 0; i < a.size(); ++i) {
                const QString path = QStringLiteral("layers[%1]").arg(i);
                if (!a[i].isObject()) {
                    ctx.add(path, QStringLiteral("expected an object with \"match\" or \"regex\", found %1").arg(found(a[i])));
                    continue;
                }
                const QJsonObject o = a[i].toObject();
                checkKeys(o, path, kPatternKeys + kSettingKeys, ctx);
                RecipeOverride ov;
                const bool hasMatch = o.contains(QStringLiteral("match")), hasRegex = o.contains(QStringLiteral("regex"));
                bool patternOk = false;
                if (hasMatch && hasRegex) {
                    ctx.add(path, QStringLiteral("has both \"match\" and \"regex\"; expected exactly one"));
                } else if (!hasMatch && !hasRegex) {
                    ctx.add(path, QStringLiteral("missing the layer pattern; expected exactly one of \"match\" (glob) or \"regex\""));
                } else {
                    const QString key = hasMatch ? QStringLiteral("match") : QStringLiteral("regex");
                    const QJsonValue pv = o.value(key);
                    if (!pv.isString() || pv.toString().isEmpty()) {
                        ctx.add(join(path, key), QStringLiteral("expected a non-empty pattern string, found %1").arg(found(pv)));
                    } else {
                        ov.isRegex = hasRegex;
                        ov.pattern = pv.toString();
                        ov.re = QRegularExpression(hasRegex ? ov.pattern : globToRegex(ov.pattern));
                        if (!ov.re.isValid())
                            ctx.add(join(path, key), QStringLiteral("invalid regular expression '%1': %2 at offset %3")
                                                         .arg(ov.pattern, ov.re.errorString())
                                                         .arg(ov.re.patternErrorOffset()));
                        else patternOk = true;
                    }
                }
                const int before = int(ctx.problems.size());
                ov.settings = readSettings(o, path, false, ctx, &r.defaults_);
                bool hasSetting = false;
                for (const QString& k : kSettingKeys) hasSetting = hasSetting || o.contains(k);
                if (!hasSetting)
                    ctx.add(path, QStringLiteral("sets nothing; expected at least one of ") + kSettingKeys.join(QStringLiteral(", ")));
                if (patternOk && int(ctx.problems.size()) == before) r.overrides_.push_back(std::move(ov));
            }
        }
    }
    // lm_head / embed_tokens: float unless their section says otherwise
    auto outerSection = [&](const QString& key, bool isHead) -> std::optional<LayerPlan> {
        if (!root.contains(key)) return std::nullopt;
        const QJsonValue v = root.value(key);
        if (!v.isObject()) {
            ctx.add(key, QStringLiteral("expected an object, found %1").arg(found(v)));
            return std::nullopt;
        }
        const QJsonObject o = v.toObject();
        const int before = int(ctx.problems.size());
        QJsonObject keysToCheck = o;
        if (!isHead && o.contains(QStringLiteral("aformat"))) {
            keysToCheck.remove(QStringLiteral("aformat"));
            ctx.add(join(key, QStringLiteral("aformat")), QStringLiteral("the embedding table is a lookup; it has no input to quantize"));
        }
        checkKeys(keysToCheck, key, isHead ? kLmHeadKeys : kEmbedKeys, ctx);
        const RecipeSettings st = readSettings(o, key, false, ctx, &r.defaults_);
        // base: the defaults' rounding (lm_head) or RTN (a lookup table has no Hessian)
        LayerPlan p = r.defaults_;
        p.smoothQuant = p.awq = false;
        p.activation = QuantFormat{FormatKind::None, 0, false, 0};
        if (!isHead || p.method == QuantMethod::None) p.method = QuantMethod::Rtn;
        // BoA's rounding outside attention is GPTQ; MG-PTQ's without its per-group widths too
        if ((p.method == QuantMethod::Boa || p.method == QuantMethod::Mgptq) && !st.method) p.method = QuantMethod::Gptq;
        p.mgptq = MgptqOptions{};
        apply(p, st);
        const QString mpath = join(key, QStringLiteral("method"));
        if (st.smoothQuant.value_or(false) || st.awq.value_or(false))
            ctx.add(mpath, QStringLiteral("SmoothQuant and AWQ do not apply outside the decoder blocks; expected %1")
                               .arg(isHead ? QStringLiteral("rtn, gptq or none") : QStringLiteral("rtn or none")));
        else if (p.method == QuantMethod::Boa)
            ctx.add(mpath, QStringLiteral("BoA applies to attention projections; expected %1")
                               .arg(isHead ? QStringLiteral("rtn, gptq or none") : QStringLiteral("rtn or none")));
        else if (p.method == QuantMethod::Mgptq)
            ctx.add(mpath, QStringLiteral("MG-PTQ applies to the linears of the decoder blocks; expected %1")
                               .arg(isHead ? QStringLiteral("rtn, gptq or none") : QStringLiteral("rtn or none")));
        else if (!isHead && p.method == QuantMethod::Gptq)
            ctx.add(mpath, QStringLiteral("the embedding table is a lookup without an input Hessian; expected rtn or none"));
        if (p.method != QuantMethod::None && !st.wformat)
            ctx.add(join(key, QStringLiteral("wformat")), QStringLiteral("missing; name the format %1 is quantized to (e.g. \"int8\")").arg(key));
        if (p.method != QuantMethod::Gptq)
            for (const QString& k : kGptqKeys)
                if (o.contains(k))
                    ctx.add(join(key, k), QStringLiteral("applies to gptq only, but %1 is %2").arg(mpath, QLatin1String(quantMethodName(p.method))));
        if (int(ctx.problems.size()) != before) return std::nullopt;
        if (p.method != QuantMethod::Gptq) p.gptq = GptqOptions{};
        return p;
    };
    r.lmHead_ = outerSection(QStringLiteral("lm_head"), true);
    r.embed_ = outerSection(QStringLiteral("embed_tokens"), false);
    if (!ctx.problems.isEmpty()) fail(ctx.problems);
    return r;
}

Recipe Recipe::load(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("cannot read recipe '%1': %2").arg(path, f.errorString()));
    return parse(f.readAll(), path);
}

Recipe Recipe::fromUniform(const LayerPlan& plan, const CalibOptions& calib) {
    Recipe r;
    r.defaults_ = plan;
    if (!usesGptq(plan.method)) r.defaults_.gptq = GptqOptions{};
    if (!plan.smoothQuant) r.defaults_.smooth = SmoothQuantOptions{};
    if (!plan.awq) r.defaults_.awqOpt = AwqOptions{};
    if (plan.method != QuantMethod::Mgptq) r.defaults_.mgptq = MgptqOptions{};
    r.setCalibration(calib);
    return r;
}

QJsonObject Recipe::planJson(const LayerPlan& p) {
    QJsonObject d{{QStringLiteral("method"), QString::fromStdString(planMethodName(p))},
                  {QStringLiteral("wformat"), QString::fromStdString(p.weight.name())},
                  {QStringLiteral("aformat"), QString::fromStdString(p.activation.kind == FormatKind::None
                                                                          ? std::string("none") : p.activation.name())}};
    if (usesGptq(p.method)) {
        d.insert(QStringLiteral("act_order"), p.gptq.actOrder);
        d.insert(QStringLiteral("static_groups"), p.gptq.staticGroups);
        d.insert(QStringLiteral("damp"), p.gptq.percDamp);
        d.insert(QStringLiteral("block_size"), p.gptq.blockSize);
    }
    if (p.smoothQuant) d.insert(QStringLiteral("smoothquant_alpha"), p.smooth.alpha);
    if (p.method == QuantMethod::Mgptq) {
        d.insert(QStringLiteral("mgptq_bits"), p.mgptq.targetBits);
        d.insert(QStringLiteral("mgptq_choices"), choicesJson(p.mgptq.choices));
        d.insert(QStringLiteral("mgptq_seed"), double(p.mgptq.seed));
        d.insert(QStringLiteral("mgptq_loss"), QLatin1String(mgptqLossName(p.mgptq.loss)));
    }
    if (p.awq) {
        d.insert(QStringLiteral("awq_grid"), p.awqOpt.grid);
        d.insert(QStringLiteral("awq_clip"), p.awqOpt.clip);
        d.insert(QStringLiteral("awq_max_shrink"), p.awqOpt.maxShrink);
        d.insert(QStringLiteral("awq_tokens"), p.awqOpt.tokens);
    }
    return d;
}

Recipe Recipe::fromLayerPlans(const std::vector<LayerPlanEntry>& layers, const Recipe& base, const QString& label) {
    if (layers.empty()) return base;
    // defaults = the plan covering most parameters (first in order on ties)
    std::map<QByteArray, int64_t> weight;
    std::vector<QJsonObject> json;
    json.reserve(layers.size());
    for (const LayerPlanEntry& l : layers) {
        json.push_back(planJson(l.plan));
        weight[QJsonDocument(json.back()).toJson(QJsonDocument::Compact)] += l.params;
    }
    QJsonObject common;
    int64_t most = -1;
    for (size_t i = 0; i < layers.size(); ++i) {
        const int64_t w = weight[QJsonDocument(json[i]).toJson(QJsonDocument::Compact)];
        if (w > most) most = w, common = json[i];
    }
    QJsonObject o = base.toJson();
    o.insert(QStringLiteral("defaults"), common);
    QJsonArray overrides;
    for (size_t i = 0; i < layers.size(); ++i) {
        if (json[i] == common) continue;
        QJsonObject e;
        for (auto it = json[i].begin(); it != json[i].end(); ++it)
            if (!common.contains(it.key()) || common.value(it.key()) != it.value()) e.insert(it.key(), it.value());
        // a layer rounded with "none" keeps float weights: it may not name a wformat
        if (layers[i].plan.method == QuantMethod::None) e.remove(QStringLiteral("wformat"));
        if (e.isEmpty()) continue;
        e.insert(QStringLiteral("match"), QString::fromStdString(layers[i].name));
        overrides.append(e);
    }
    if (overrides.isEmpty()) o.remove(QStringLiteral("layers"));
    else o.insert(QStringLiteral("layers"), overrides);
    return parse(QJsonDocument(o).toJson(), label);
}

QJsonObject Recipe::toJson() const {
    QJsonObject o{{kVersionKey, kVersion}, {QStringLiteral("defaults"), planJson(defaults_)}};
    if (!description_.isEmpty()) o.insert(QStringLiteral("description"), description_);
    QJsonObject c;
    if (nsamples_) c.insert(QStringLiteral("nsamples"), *nsamples_);
    if (seqlen_) c.insert(QStringLiteral("seqlen"), *seqlen_);
    if (seed_) c.insert(QStringLiteral("seed"), double(*seed_));
    if (!c.isEmpty()) o.insert(QStringLiteral("calibration"), c);
    auto outerJson = [](const LayerPlan& p, bool isHead) {
        QJsonObject e{{QStringLiteral("method"), QLatin1String(quantMethodName(p.method))}};
        if (p.method != QuantMethod::None) e.insert(QStringLiteral("wformat"), QString::fromStdString(p.weight.name()));
        if (isHead) {
            e.insert(QStringLiteral("aformat"), QString::fromStdString(p.activation.kind == FormatKind::None ? std::string("none") : p.activation.name()));
            if (p.method == QuantMethod::Gptq) {
                e.insert(QStringLiteral("act_order"), p.gptq.actOrder);
                e.insert(QStringLiteral("static_groups"), p.gptq.staticGroups);
                e.insert(QStringLiteral("damp"), p.gptq.percDamp);
                e.insert(QStringLiteral("block_size"), p.gptq.blockSize);
            }
        }
        return e;
    };
    if (lmHead_) o.insert(QStringLiteral("lm_head"), outerJson(*lmHead_, true));
    if (embed_) o.insert(QStringLiteral("embed_tokens"), outerJson(*embed_, false));
    if (!overrides_.empty()) {
        QJsonArray layers;
        for (const RecipeOverride& ov : overrides_) {
            QJsonObject e = settingsJson(ov.settings);
            e.insert(ov.isRegex ? QStringLiteral("regex") : QStringLiteral("match"), ov.pattern);
            layers.append(e);
        }
        o.insert(QStringLiteral("layers"), layers);
    }
    return o;
}

QByteArray Recipe::toJsonBytes() const { return QJsonDocument(toJson()).toJson(QJsonDocument::Indented); }

LayerPlan Recipe::planFor(const std::string& layerName) const {
    LayerPlan p = defaults_;
    for (const RecipeOverride& ov : overrides_)
        if (ov.matches(layerName)) apply(p, ov.settings);
    return p;
}

PlanFn Recipe::planFn() const {
    return [r = *this](const Linear& l) { return r.planFor(l.name); };
}

OuterPlans Recipe::outerPlans() const { return OuterPlans{embed_, lmHead_}; }

void Recipe::setOuterPlans(const OuterPlans& o) {
    auto clean = [](std::optional<LayerPlan> p, bool isHead) {
        if (!p) return p;
        p->smoothQuant = p->awq = false;
        p->smooth = SmoothQuantOptions{};
        p->awqOpt = AwqOptions{};
        p->mgptq = MgptqOptions{};
        if (p->method != QuantMethod::Gptq) p->gptq = GptqOptions{};
        if (!isHead) p->activation = QuantFormat{FormatKind::None, 0, false, 0};
        return p;
    };
    embed_ = clean(o.embedTokens, false);
    lmHead_ = clean(o.lmHead, true);
}

bool Recipe::needsCalibration(const Model& model) const {
    if (lmHead_ && lmHead_->method == QuantMethod::Gptq) return true;
    for (const Linear* l : model.linears())
        if (const LayerPlan p = planFor(l->name); usesGptq(p.method) || p.smoothQuant || p.awq) return true;
    return false;
}

CalibOptions Recipe::calibration(const CalibOptions& fallback) const {
    CalibOptions c = fallback;
    if (nsamples_) c.nsamples = *nsamples_;
    if (seqlen_) c.seqlen = *seqlen_;
    if (seed_) c.seed = *seed_;
    return c;
}

void Recipe::setCalibration(const CalibOptions& c) {
    nsamples_ = c.nsamples;
    seqlen_ = c.seqlen;
    seed_ = c.seed;
}

std::vector<QString> Recipe::unmatchedPatterns(const std::vector<std::string>& layerNames) const {
    std::vector<QString> out;
    for (size_t i = 0; i < overrides_.size(); ++i) {
        const RecipeOverride& ov = overrides_[i];
        if (std::none_of(layerNames.begin(), layerNames.end(), [&](const std::string& n) { return ov.matches(n); }))
            out.push_back(ov.describe(int(i)) + QStringLiteral(" matches no layer"));
    }
    return out;
}

std::vector<QString> Recipe::unmatchedPatterns(const Model& model) const {
    std::vector<std::string> names;
    for (const Linear* l : model.linears()) names.push_back(l->name);
    return unmatchedPatterns(names);
}

}  // namespace qs
