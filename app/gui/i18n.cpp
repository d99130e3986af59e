#include "i18n.h"

#include <QCoreApplication>
#include <QDir>
#include <QLibraryInfo>
#include <QLocale>
#include <QTranslator>

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
