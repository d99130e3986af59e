#include "i18n.h"

#include <QCoreApplication>
#include <QDir>
#include <QFontDatabase>
#include <QGuiApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QTranslator>

#include <optional>

namespace qs::gui {

QString uiLanguage(const QString& lang) {
    QString l = lang.trimmed();
    if (l.isEmpty()) l = qEnvironmentVariable("QUANTSCOPE_LANG").trimmed();
    if (l.isEmpty()) return QLocale::system().name();
    return QLocale(l).name() == QLatin1String("C") ? l : QLocale(l).name();
}

QStringList availableLanguages() {
    QStringList out;
    for (const QString& f : QDir(QStringLiteral(":/i18n")).entryList({QStringLiteral("quantscope_*.qm")}, QDir::Files, QDir::Name))
        out << f.mid(11, f.size() - 11 - 3);
    return out;
}

namespace {
/// Chinese text drawn with a Latin default font falls back glyph by glyph to a CJK
/// font with other metrics, and Qt Charts then elides axis titles it measured with
/// the default font. So a CJK UI uses a CJK family (its Latin glyphs included)
/// as the application font when one is installed; other languages get the
/// original font back.
void useScriptFont(const QLocale& locale) {
    static std::optional<QFont> original;
    if (!qobject_cast<QGuiApplication*>(QCoreApplication::instance())) return;
    if (!original) original = QGuiApplication::font();
    QFontDatabase::WritingSystem ws = QFontDatabase::Any;
    switch (locale.language()) {
    case QLocale::Chinese:
        ws = locale.script() == QLocale::TraditionalHanScript || locale.territory() == QLocale::Taiwan ||
                     locale.territory() == QLocale::HongKong
                 ? QFontDatabase::TraditionalChinese
                 : QFontDatabase::SimplifiedChinese;
        break;
    case QLocale::Japanese: ws = QFontDatabase::Japanese; break;
    case QLocale::Korean: ws = QFontDatabase::Korean; break;
    default: break;
    }
    QFont f = *original;
    if (ws != QFontDatabase::Any) {
        const QStringList families = QFontDatabase::families(ws);
        QString pick;
        for (const QString& fam : families)  // a sans-serif UI face first (Noto Sans CJK, Source Han Sans, WenQuanYi)
            if (fam.contains(QLatin1String("Sans"), Qt::CaseInsensitive) || fam.contains(QLatin1String("Hei"), Qt::CaseInsensitive)) {
                pick = fam;
                break;
            }
        if (pick.isEmpty() && !families.isEmpty()) pick = families.front();
        if (!pick.isEmpty()) f.setFamilies(QStringList{pick} + original->families());
    }
    QGuiApplication::setFont(f);
}
}  // namespace

QString installTranslations(const QString& language) {
    static QTranslator* app = nullptr;
    static QTranslator* qt = nullptr;
    for (QTranslator** t : {&app, &qt}) {
        if (*t) {
            QCoreApplication::removeTranslator(*t);
            delete *t;
            *t = nullptr;
        }
    }
    const QLocale locale(language);
    useScriptFont(locale);
    if (locale.language() == QLocale::English || locale.language() == QLocale::C) return QString();
    auto* mine = new QTranslator;
    // QTranslator::load(QLocale, ...) tries the locale's UI languages ("zh_CN", "zh", "de_DE", "de", …)
    if (!mine->load(locale, QStringLiteral("quantscope"), QStringLiteral("_"), QStringLiteral(":/i18n"))) {
        delete mine;
        return QString();
    }
    QCoreApplication::installTranslator(mine);
    app = mine;
    auto* base = new QTranslator;
    if (base->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"), QLibraryInfo::path(QLibraryInfo::TranslationsPath))) {
        QCoreApplication::installTranslator(base);
        qt = base;
    } else {
        delete base;  // Qt's own translations are not installed: its dialogs stay English
    }
    return mine->filePath();
}

}  // namespace qs::gui
