// The UI translations (translations/*.ts, embedded as :/i18n/quantscope_<lang>.qm
// by qt_add_translations): the .ts files are complete (no unfinished entry, the
// %n placeholders and & accelerators kept), each .qm loads from the resources, and
// with it installed every text the main window shows (menus, actions, toolbar,
// buttons, labels, tabs, table headers, chart titles, tooltips) is a translation
// from the .ts, never the English source. Saves a screenshot per language
// (tr_<lang>.png in the build dir).
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <QAbstractButton>
#include <QApplication>
#include <QChartView>
#include <QDir>
#include <QFile>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTabBar>
#include <QTableView>
#include <QToolBar>
#include <QWidgetAction>
#include <QTranslator>
#include <QXmlStreamReader>
#include <QtTest>

#include "i18n.h"
#include "main_window.h"

using namespace qs;

namespace {

struct Message {
    QString context, source, translation, comment;  // comment: the disambiguation (tr's second argument)
    bool unfinished = false;
};

std::vector<Message> readTs(const QString& path) {
    std::vector<Message> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return out;
    QXmlStreamReader x(&f);
    QString context;
    Message m;
    while (!x.atEnd()) {
        x.readNext();
        if (!x.isStartElement()) continue;
        if (x.name() == QLatin1String("name")) {
            context = x.readElementText();
        } else if (x.name() == QLatin1String("message")) {
            m = Message{context, {}, {}, {}, false};
        } else if (x.name() == QLatin1String("source")) {
            m.source = x.readElementText();
        } else if (x.name() == QLatin1String("comment")) {
            m.comment = x.readElementText();
        } else if (x.name() == QLatin1String("translation")) {
            m.unfinished = x.attributes().value(QLatin1String("type")) == QLatin1String("unfinished");
            m.translation = x.readElementText();
            out.push_back(m);
        }
    }
    return out;
}

// what a user reads: no accelerator marks, no "…", trimmed
QString plain(QString s) {
    s.remove(QRegularExpression(QStringLiteral("\\(&[A-Za-z]\\)")));  // CJK style "文件(&F)"
    s.replace(QStringLiteral("&&"), QStringLiteral("\x01"));
    s.remove(QLatin1Char('&'));
    s.replace(QStringLiteral("\x01"), QStringLiteral("&"));
    s.remove(QStringLiteral("…"));
    s.remove(QStringLiteral("..."));
    return s.trimmed();
}

std::set<QString> placeholders(const QString& s) {
    std::set<QString> out;
    QRegularExpressionMatchIterator it = QRegularExpression(QStringLiteral("%\\d")).globalMatch(s);
    while (it.hasNext()) out.insert(it.next().captured());
    return out;
}

// a translation as a pattern for the texts built from it (%n = anything)
QRegularExpression pattern(const QString& text) {
    QStringList parts;
    for (const QString& p : plain(text).split(QRegularExpression(QStringLiteral("%\\d")))) parts << QRegularExpression::escape(p);
    return QRegularExpression(QRegularExpression::anchoredPattern(parts.join(QStringLiteral("[\\s\\S]*"))));
}

// texts that may stay as they are in any language: names, formats, numbers
bool technical(const QString& s) {
    static const QRegularExpression re(QStringLiteral(
        "^(QuantScope|PPL|GPTQ|AWQ|RTN|SmoothQuant|OpenCL|CPU|SQLite|JSON|fp16|float|"
        "(int\\d+(-g\\d+)?|mx(int|fp)\\d+(_e\\dm\\d)?)(,\\s*(int\\d+(-g\\d+)?|mx(int|fp)\\d+(_e\\dm\\d)?))*|"
        // method names (as --method and recipes spell them), e.g. in Edit → Set method
        "((smoothquant|awq)\\+)*(rtn|gptq|boa|mgptq|none)|"
        "[\\d.,\\s]+)$"));
    // the compute backend's own report (opencl/, English like core's messages) in the status bar
    static const QRegularExpression backend(QStringLiteral("^OpenCL: using device "));
    return !s.contains(QRegularExpression(QStringLiteral("\\p{L}"))) || re.match(s).hasMatch() || backend.match(s).hasMatch();
}

struct UiText {
    QString what, text;
};

// every text the main window can show, from its widgets and actions (visible or not)
std::vector<UiText> collectTexts(QMainWindow& w) {
    std::vector<UiText> out;
    auto add = [&](const QString& what, const QString& t) {
        if (!plain(t).isEmpty()) out.push_back({what, t});
    };
    std::function<void(QMenu*)> menu = [&](QMenu* m) {
        add(QStringLiteral("menu"), m->title());
        for (QAction* a : m->actions()) {
            if (a->isSeparator()) continue;
            if (a->menu()) {
                menu(a->menu());
                continue;
            }
            add(QStringLiteral("menu action"), a->text());
            add(QStringLiteral("action tooltip"), a->toolTip());
        }
    };
    for (QAction* a : w.menuBar()->actions())
        if (a->menu()) menu(a->menu());
    for (QToolBar* tb : w.findChildren<QToolBar*>()) {
        add(QStringLiteral("toolbar title"), tb->windowTitle());
        for (QAction* a : tb->actions()) {
            if (a->isSeparator() || qobject_cast<QWidgetAction*>(a)) continue;
            add(QStringLiteral("toolbar action"), a->iconText());
            add(QStringLiteral("toolbar tooltip"), a->toolTip());
        }
    }
    for (QAbstractButton* b : w.findChildren<QAbstractButton*>()) {
        if (b->parent() && qobject_cast<QToolBar*>(b->parent())) continue;  // toolbar buttons: their actions above
        if (b->metaObject()->className() == QByteArray("QToolBarExtension")) continue;
        if (b->metaObject()->className() == QByteArray("QToolButton") && b->text().isEmpty()) continue;
        add(QStringLiteral("button"), b->text());
        add(QStringLiteral("button tooltip"), b->toolTip());
    }
    for (QLabel* l : w.findChildren<QLabel*>()) {
        add(QStringLiteral("label"), l->text());
        add(QStringLiteral("label tooltip"), l->toolTip());
    }
    for (QLineEdit* e : w.findChildren<QLineEdit*>()) {
        add(QStringLiteral("placeholder"), e->placeholderText());
        add(QStringLiteral("line edit tooltip"), e->toolTip());
    }
    for (QGroupBox* g : w.findChildren<QGroupBox*>()) add(QStringLiteral("group box"), g->title());
    for (QTabBar* t : w.findChildren<QTabBar*>())
        for (int i = 0; i < t->count(); ++i) add(QStringLiteral("tab"), t->tabText(i));
    for (QTableView* v : w.findChildren<QTableView*>()) {
        if (!v->model()) continue;
        for (int c = 0; c < v->model()->columnCount(); ++c) {
            add(QStringLiteral("column header"), v->model()->headerData(c, Qt::Horizontal).toString());
            add(QStringLiteral("header tooltip"), v->model()->headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString());
        }
    }
    for (QChartView* c : w.findChildren<QChartView*>()) {
        add(QStringLiteral("chart title"), c->chart()->title());
        for (QAbstractAxis* a : c->chart()->axes()) add(QStringLiteral("axis title"), a->titleText());
    }
    return out;
}

class TestTranslations : public QObject {
    Q_OBJECT
private:
    QString tsPath(const QString& lang) const {
        return QStringLiteral(QS_SOURCE_DIR "/translations/quantscope_%1.ts").arg(lang);
    }
    // the texts of `w` that are no translation from `msgs` (or an untranslated source)
    QStringList untranslated(QMainWindow& w, const std::vector<Message>& msgs) {
        std::set<QString> english;  // sources whose translation differs from them
        std::set<QString> translated;
        std::vector<QRegularExpression> ok;
        for (const Message& m : msgs) {
            if (plain(m.translation) != plain(m.source)) english.insert(plain(m.source));
            translated.insert(plain(m.translation));
            ok.push_back(pattern(m.translation));
        }
        QStringList bad;
        for (const UiText& t : collectTexts(w)) {
            const QString s = plain(t.text);
            if (translated.count(s)) continue;  // e.g. German "Analyse" (menu) = the English action "Analyse"
            if (english.count(s)) {
                bad << QStringLiteral("%1 still English: \"%2\"").arg(t.what, s);
                continue;
            }
            if (technical(s)) continue;
            bool matched = false;
            for (const QRegularExpression& re : ok)
                if (re.match(s).hasMatch()) {
                    matched = true;
                    break;
                }
            if (!matched) bad << QStringLiteral("%1 not from the translation: \"%2\"").arg(t.what, s);
        }
        bad.removeDuplicates();
        return bad;
    }

    gui::MainWindowOptions options() const {
        gui::MainWindowOptions o;
        o.loadDemoAtStart = false;
        o.modalErrors = false;
        o.persistentSettings = false;
        o.databasePath = QString();  // no experiment log
        o.demo.sampleWindows = 2;
        return o;
    }

private Q_SLOTS:
    void tsFilesComplete_data() {
        QTest::addColumn<QString>("lang");
        QTest::newRow("de") << QStringLiteral("de");
        QTest::newRow("zh_CN") << QStringLiteral("zh_CN");
    }
    void tsFilesComplete() {
        QFETCH(QString, lang);
        const std::vector<Message> msgs = readTs(tsPath(lang));
        QVERIFY2(msgs.size() > 200, qPrintable(tsPath(lang)));
        for (const Message& m : msgs) {
            const QString where = QStringLiteral("%1: \"%2\"").arg(m.context, m.source);
            QVERIFY2(!m.unfinished, qPrintable(QStringLiteral("unfinished: ") + where));
            QVERIFY2(!m.translation.isEmpty(), qPrintable(QStringLiteral("empty: ") + where));
            QVERIFY2(placeholders(m.source) == placeholders(m.translation), qPrintable(QStringLiteral("placeholders: ") + where));
            if (QString(m.source).remove(QStringLiteral("&&")).contains(QLatin1Char('&')))
                QVERIFY2(QString(m.translation).remove(QStringLiteral("&&")).contains(QLatin1Char('&')),
                         qPrintable(QStringLiteral("accelerator: ") + where));
        }
    }

    void languageSelection() {
        QCOMPARE(gui::availableLanguages(), (QStringList{QStringLiteral("de"), QStringLiteral("zh_CN")}));
        QCOMPARE(gui::uiLanguage(QStringLiteral("de")), QStringLiteral("de_DE"));
        QCOMPARE(gui::uiLanguage(QStringLiteral("zh_CN")), QStringLiteral("zh_CN"));
        qputenv("QUANTSCOPE_LANG", "zh_CN");
        QCOMPARE(gui::uiLanguage(), QStringLiteral("zh_CN"));
        QCOMPARE(gui::uiLanguage(QStringLiteral("de")), QStringLiteral("de_DE"));  // --lang wins
        qunsetenv("QUANTSCOPE_LANG");
        QCOMPARE(gui::installTranslations(QStringLiteral("de_DE")), QStringLiteral(":/i18n/quantscope_de.qm"));
        QCOMPARE(QCoreApplication::translate("qs::gui::MainWindow", "&File"), QStringLiteral("&Datei"));
        QCOMPARE(gui::installTranslations(QStringLiteral("zh_CN")), QStringLiteral(":/i18n/quantscope_zh_CN.qm"));
        QCOMPARE(QCoreApplication::translate("qs::gui::MainWindow", "&File"), QStringLiteral("文件(&F)"));
        QCOMPARE(gui::installTranslations(QStringLiteral("en_US")), QString());  // English: the sources
        QCOMPARE(QCoreApplication::translate("qs::gui::MainWindow", "&File"), QStringLiteral("&File"));
        QCOMPARE(gui::installTranslations(QStringLiteral("fr_FR")), QString());  // no French: English
        QCOMPARE(QCoreApplication::translate("qs::gui::MainWindow", "&File"), QStringLiteral("&File"));
    }

    // the check below can fail: without a translator the window is English
    void englishWindowIsDetected() {
        const std::vector<Message> msgs = readTs(tsPath(QStringLiteral("de")));
        gui::MainWindow w(options());
        w.resize(1280, 800);
        const QStringList bad = untranslated(w, msgs);
        QVERIFY2(bad.size() > 30, qPrintable(QString::number(bad.size())));
        QVERIFY(bad.join(QLatin1Char('\n')).contains(QStringLiteral("\"File\"")));
    }

    void mainWindowTranslated_data() {
        QTest::addColumn<QString>("lang");
        QTest::newRow("de") << QStringLiteral("de");
        QTest::newRow("zh_CN") << QStringLiteral("zh_CN");
    }
    void mainWindowTranslated() {
        QFETCH(QString, lang);
        const std::vector<Message> msgs = readTs(tsPath(lang));
        std::map<std::tuple<QString, QString, QString>, QString> tr;
        for (const Message& m : msgs) tr[{m.context, m.source, m.comment}] = m.translation;
        auto expect = [&](const char* context, const char* source, const char* comment = "") {
            const auto it = tr.find({QString::fromLatin1(context), QString::fromUtf8(source), QString::fromUtf8(comment)});
            return it == tr.end() ? QStringLiteral("<not in the .ts: %1>").arg(QString::fromUtf8(source)) : it->second;
        };

        QTranslator t;
        QVERIFY(t.load(QStringLiteral(":/i18n/quantscope_%1.qm").arg(lang)));
        QVERIFY(QCoreApplication::installTranslator(&t));
        gui::MainWindow w(options());
        w.resize(1280, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));

        // menu titles
        QStringList menus;
        for (QAction* a : w.menuBar()->actions()) menus << a->text();
        QVERIFY(menus.size() >= 4);
        QCOMPARE(menus.front(), expect("qs::gui::MainWindow", "&File"));
        QVERIFY(menus.contains(expect("qs::gui::MainWindow", "&Edit")));
        QVERIFY(menus.contains(expect("qs::gui::MainWindow", "&Help")));
        QVERIFY(menus.front() != QStringLiteral("&File"));
        // toolbar actions, buttons, tabs
        QStringList toolbar;
        for (QToolBar* tb : w.findChildren<QToolBar*>())
            for (QAction* a : tb->actions()) toolbar << a->iconText();
        QVERIFY2(toolbar.contains(expect("qs::gui::MainWindow", "Open model…")), qPrintable(toolbar.join(QLatin1Char('|'))));
        QVERIFY(toolbar.contains(plain(expect("qs::gui::MainWindow", "&Analyse"))));
        QVERIFY(toolbar.contains(expect("qs::gui::MainWindow", "Auto-assign", "toolbar")));
        QVERIFY(toolbar.contains(expect("qs::gui::MainWindow", "Export model…", "toolbar")));
        // every toolbar action fits at 1280 px: none is pushed into the overflow menu (»)
        for (QToolBar* tb : w.findChildren<QToolBar*>())
            for (QAction* a : tb->actions()) {
                if (!a->isVisible() || a->isSeparator()) continue;
                QWidget* b = tb->widgetForAction(a);
                QVERIFY2(b && b->isVisible() && b->geometry().right() < tb->width(),
                         qPrintable(QStringLiteral("%1: the toolbar item \"%2\" does not fit").arg(lang, a->iconText())));
            }
        QStringList buttons;
        for (QAbstractButton* b : w.findChildren<QAbstractButton*>()) buttons << b->text();
        QVERIFY(buttons.contains(expect("qs::gui::MainWindow", "Set format")));
        QVERIFY(!buttons.contains(QStringLiteral("Set format")));
        QStringList tabs;
        for (QTabBar* tb : w.findChildren<QTabBar*>())
            for (int i = 0; i < tb->count(); ++i) tabs << tb->tabText(i);
        for (const char* s : {"Sensitivity", "Outlier channels", "Per-layer error of runs", "Jobs", "History"})
            QVERIFY2(tabs.contains(expect("qs::gui::MainWindow", s)), s);
        // column headers: the layer table, the job panel and the history
        QStringList headers;
        for (QTableView* v : w.findChildren<QTableView*>())
            for (int c = 0; v->model() && c < v->model()->columnCount(); ++c) headers << v->model()->headerData(c, Qt::Horizontal).toString();
        for (auto [ctx, s] : {std::pair{"qs::views::LayerTableModel", "Layer"}, {"qs::views::LayerTableModel", "Weight format"},
                              {"qs::views::JobListModel", "Progress"}, {"qs::views::JobListModel", "Stage / result"},
                              {"qs::views::RunHistoryModel", "Started"}, {"qs::views::RunHistoryModel", "Recipe"}}) {
            QVERIFY2(headers.contains(expect(ctx, s)), s);
            QVERIFY2(!headers.contains(QString::fromLatin1(s)), s);
        }

        // nothing English anywhere in the window, before and after opening a model
        QStringList bad = untranslated(w, msgs);
        QVERIFY2(bad.isEmpty(), qPrintable(bad.join(QLatin1Char('\n'))));
        QSignalSpy loaded(&w, &gui::MainWindow::modelLoaded);
        w.loadDemo();
        QVERIFY(loaded.wait(60000));
        QCOMPARE(loaded.last().at(0).toBool(), true);
        QTest::qWait(50);
        bad = untranslated(w, msgs);
        QVERIFY2(bad.isEmpty(), qPrintable(bad.join(QLatin1Char('\n'))));
        QVERIFY(w.windowTitle().contains(expect("qs::gui::MainWindow", "demo model")));

        // a screenshot to look at (CJK needs a font, e.g. Debian's fonts-noto-cjk; the checks above do not)
        const QImage img = w.grab().toImage();
        QCOMPARE(img.size(), QSize(1280, 800) * w.devicePixelRatio());
        QVERIFY(img.save(QStringLiteral(QS_TR_SHOT_DIR "/tr_%1.png").arg(lang)));
        QCoreApplication::removeTranslator(&t);
    }
};

}  // namespace

QTEST_MAIN(TestTranslations)
#include "test_translations.moc"
