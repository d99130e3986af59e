// quantscope: the desktop app. Opens the built-in demo model at start (or the
// model named on the command line); --screenshot renders the main window to a PNG
// and exits (works headless with QT_QPA_PLATFORM=offscreen).
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QImage>

#include "i18n.h"
#include "main_window.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("quantscope"));
    QApplication::setOrganizationName(QStringLiteral("QuantScope"));
    QApplication::setApplicationVersion(QStringLiteral(QUANTSCOPE_VERSION));

    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("QuantScope: a workbench for post-training quantization of LLMs."));
    p.addHelpOption();
    p.addVersionOption();
    p.addOptions({
        {QStringLiteral("screenshot"),
         QStringLiteral("Open the demo model, analyse it, auto-assign at --budget bits, compare two experiments (an auto-assign "
                        "sweep and uniform GPTQ), render the window at --size to FILE (PNG) and exit."),
         QStringLiteral("FILE")},
        {QStringLiteral("demo"), QStringLiteral("Open the built-in demo model (the default without MODEL).")},
        {QStringLiteral("budget"), QStringLiteral("--screenshot: the auto-assign budget in bits/weight (default 3.0)."),
         QStringLiteral("BITS"), QStringLiteral("3.0")},
        {QStringLiteral("size"), QStringLiteral("--screenshot: the window size (default 1280x800)."), QStringLiteral("WxH"),
         QStringLiteral("1280x800")},
        {QStringLiteral("tab"), QStringLiteral("--screenshot: the tab under the layer table: sensitivity (default), outliers or errors."),
         QStringLiteral("TAB"), QStringLiteral("sensitivity")},
        {QStringLiteral("lang"),
         QStringLiteral("The UI language: de, zh_CN or en (default: $QUANTSCOPE_LANG, else the system locale, e.g. LANG=de_DE.UTF-8)."),
         QStringLiteral("LANG")},
    });
    p.addPositionalArgument(QStringLiteral("model"), QStringLiteral("A model to open: HF directory, .safetensors or llama2.c .bin."),
                            QStringLiteral("[MODEL]"));
    p.process(app);
    qs::gui::installTranslations(qs::gui::uiLanguage(p.value(QStringLiteral("lang"))));
    const QStringList pos = p.positionalArguments();
    if (pos.size() > 1 || (!pos.isEmpty() && p.isSet(QStringLiteral("demo")))) {
        std::fprintf(stderr, "quantscope: give one MODEL or --demo\n");
        return 2;
    }

    if (p.isSet(QStringLiteral("screenshot"))) {
        if (!pos.isEmpty()) {
            std::fprintf(stderr, "quantscope: --screenshot renders the demo model (use --demo, not MODEL)\n");
            return 2;
        }
        bool ok = false;
        const double budget = p.value(QStringLiteral("budget")).toDouble(&ok);
        if (!ok || budget <= 0) {
            std::fprintf(stderr, "quantscope: --budget: expected bits per weight, found '%s'\n", qPrintable(p.value(QStringLiteral("budget"))));
            return 2;
        }
        const QStringList wh = p.value(QStringLiteral("size")).split(QLatin1Char('x'));
        const int w = wh.size() == 2 ? wh[0].toInt() : 0, h = wh.size() == 2 ? wh[1].toInt() : 0;
        if (w < 200 || h < 200) {
            std::fprintf(stderr, "quantscope: --size: expected WxH (e.g. 1280x800), found '%s'\n", qPrintable(p.value(QStringLiteral("size"))));
            return 2;
        }
        const QStringList tabs{QStringLiteral("sensitivity"), QStringLiteral("outliers"), QStringLiteral("errors")};
        const int tab = int(tabs.indexOf(p.value(QStringLiteral("tab")).toLower()));
        if (tab < 0) {
            std::fprintf(stderr, "quantscope: --tab: expected sensitivity, outliers or errors, found '%s'\n", qPrintable(p.value(QStringLiteral("tab"))));
            return 2;
        }
        QString error;
        const QImage img = qs::gui::renderDemoScreenshot(qs::gui::MainWindowOptions{}, QSize(w, h), budget, &error, tab);
        if (img.isNull()) {
            std::fprintf(stderr, "quantscope: screenshot failed: %s\n", qPrintable(error));
            return 1;
        }
        const QString file = p.value(QStringLiteral("screenshot"));
        if (!img.save(file)) {
            std::fprintf(stderr, "quantscope: cannot write %s\n", qPrintable(file));
            return 1;
        }
        std::printf("wrote %s (%dx%d)\n", qPrintable(file), img.width(), img.height());
        return 0;
    }

    qs::gui::MainWindowOptions opt;
    opt.loadDemoAtStart = pos.isEmpty();
    qs::gui::MainWindow win(opt);
    win.resize(1280, 800);
    win.show();
    if (!pos.isEmpty()) win.openModel(pos.front());
    return app.exec();
}
