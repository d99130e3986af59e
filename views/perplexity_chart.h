#pragma once
// Perplexity vs average bits per weight: one curve per experiment (a method or
// an allocation swept over budgets), several side by side; the float model's
// perplexity as a dashed reference line; the analysis' Pareto frontier
// (predicted or block-output error vs average bits) on a second, logarithmic
// axis. Points are runs: hover shows the run, its bits and perplexity; clicking
// one emits runClicked(runId).
//  * x: average bits per weight over the quantized linears, scales and zero
//    points included (what the runs report).
//  * y (left): perplexity; logarithmic when the values span more than a factor 10
//    (low-bit runs can be orders of magnitude worse).
// The chart shows what it is given; it computes nothing but the axis ranges.
#include <optional>
#include <vector>

#include <QChartView>
#include <QString>

class QAbstractAxis;
class QValueAxis;

namespace qs::views {

struct PplPoint {
    double bits = 0;
    double ppl = 0;
    QString label;     // e.g. "run 12: auto-assign at 3.00"
    qint64 runId = 0;  // 0 = not from the log
};

struct PplCurve {
    QString name;
    std::vector<PplPoint> points;  // any order; drawn by ascending bits
};

struct FrontierPoint {
    double bits = 0;
    double error = 0;
};

class PerplexityChart : public QChartView {
    Q_OBJECT
public:
    explicit PerplexityChart(QWidget* parent = nullptr);

    void setCurves(const std::vector<PplCurve>& curves);
    /// The unquantized model's perplexity on the same text (nullopt: no line).
    void setReferencePpl(std::optional<double> ppl, const QString& label = {});
    /// The analysis' Pareto frontier; `errorName` names the error measure ("block error").
    void setFrontier(const std::vector<FrontierPoint>& frontier, const QString& errorName);

    // what is shown (for tests)
    int curveCount() const { return int(curves_.size()); }
    const std::vector<PplCurve>& curves() const { return curves_; }
    bool logScale() const { return log_; }
    std::pair<double, double> bitsRange() const { return bitsRange_; }
    std::pair<double, double> pplRange() const { return pplRange_; }
    int frontierPoints() const { return int(frontier_.size()); }
    QStringList legendNames() const;

Q_SIGNALS:
    void runClicked(qint64 runId);

private:
    void rebuild();
    std::vector<PplCurve> curves_;
    std::optional<double> refPpl_;
    QString refLabel_;
    std::vector<FrontierPoint> frontier_;
    QString errorName_;
    bool log_ = false;
    std::pair<double, double> bitsRange_{0, 0}, pplRange_{0, 0};
};

}  // namespace qs::views
