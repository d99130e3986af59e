#pragma once
// The UI language: QuantScope's own translations (translations/*.ts, compiled by
// qt_add_translations and embedded as :/i18n/quantscope_<locale>.qm) plus Qt's
// qtbase translations when installed (Debian: qt6-translations-l10n; skipped
// silently when absent). English is the source language and needs no file.
#include <QString>
#include <QStringList>

namespace qs::gui {

// The language to use: `lang` when not empty (the --lang option), else
// $QUANTSCOPE_LANG, else the system locale (on Linux LC_ALL / LC_MESSAGES / LANG).
// Returns a locale name such as "de_DE" or "zh_CN".
QString uiLanguage(const QString& lang = QString());

// Languages with a translation embedded in the app ("de", "zh_CN").
QStringList availableLanguages();

// Installs the translators for `language` (as uiLanguage() returns) on the
// application; removes the ones a previous call installed. Returns the
// translation file loaded (e.g. ":/i18n/quantscope_de.qm"), or an empty string
// when the UI stays English.
QString installTranslations(const QString& language);

}  // namespace qs::gui
