#include "model/model.h"

#include <set>

#include <QCryptographicHash>
#ifdef Q_OS_UNIX
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "util/error.h"

namespace qs {

const char* linearKindName(LinearKind k) {
    switch (k) {
    case LinearKind::Q: return "q";
    case LinearKind::K: return "k";
    case LinearKind::V: return "v";
    case LinearKind::O: return "o";
    case LinearKind::Gate: return "gate";
    case LinearKind::Up: return "up";
    case LinearKind::Down: return "down";
    case LinearKind::Fc1: return "fc1";
    case LinearKind::Fc2: return "fc2";
    }
    return "?";
}

WeightSource WeightSource::fromOwned(std::vector<float> data, std::vector<int64_t> shape, const std::string& name) {
    WeightSource w;
    auto owned = std::make_shared<const std::vector<float>>(std::move(data));
    w.owned = owned;
    w.ref.name = name;
    w.ref.dtypeName = "F32";
    w.ref.dtype = DType::F32;
    w.ref.shape = std::move(shape);
    w.ref.data = reinterpret_cast<const uint8_t*>(owned->data());
    w.ref.nbytes = owned->size() * sizeof(float);
    w.ref.file = QStringLiteral("(in memory)");
    return w;
}

static int64_t storedRows(const TensorRef& r) { return r.shape.size() == 2 ? r.shape[0] : 1; }
static int64_t storedCols(const TensorRef& r) { return r.shape.empty() ? 1 : r.shape.back(); }

int64_t WeightSource::logicalRows() const {
    if (rows >= 0) return rows;
    return transpose ? storedCols(ref) : storedRows(ref);
}
int64_t WeightSource::logicalCols() const { return transpose ? storedRows(ref) : storedCols(ref); }

size_t WeightSource::storedBytes() const { return ref.nbytes; }

void WeightSource::releasePages() const {
#ifdef Q_OS_UNIX
    if (!ref.keepAlive || !ref.data || ref.nbytes == 0) return;
    static const uintptr_t page = uintptr_t(sysconf(_SC_PAGE_SIZE));
    const uintptr_t b = reinterpret_cast<uintptr_t>(ref.data) & ~(page - 1);
    const uintptr_t e = reinterpret_cast<uintptr_t>(ref.data) + ref.nbytes;
    // read-only file mapping: dropping pages is safe, they fault back in from the file
    madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
#endif
}

MatrixRM WeightSource::rowsBlock(int64_t r0, int64_t n) const {
    const int64_t C = logicalCols();
    Q_ASSERT(r0 >= 0 && r0 + n <= logicalRows());
    MatrixRM out(n, C);
    if (!transpose) {
        const int64_t SC = storedCols(ref);
#pragma omp parallel for schedule(static) if (n * SC > (1 << 18))
        for (int64_t i = 0; i < n; ++i) {
            const int64_t lr = r0 + i;
            const int64_t src = rowOffset + (rowPerm.empty() ? lr : rowPerm[size_t(lr)]);
            ref.toFloat(out.row(i).data(), size_t(src * SC), size_t(SC));
        }
        return out;
    }
    // transposed storage [R, N]: logical row i = stored column (rowOffset + i)
    const int64_t R = storedRows(ref), N = storedCols(ref);
    std::vector<float> rowbuf(static_cast<size_t>(N));
    for (int64_t j = 0; j < R; ++j) {
        ref.toFloat(rowbuf.data(), size_t(j * N), size_t(N));
        for (int64_t i = 0; i < n; ++i) {
            const int64_t lr = r0 + i;
            const int64_t src = rowOffset + (rowPerm.empty() ? lr : rowPerm[size_t(lr)]);
            out(i, j) = rowbuf[size_t(src)];
        }
    }
    return out;
}

MatrixRM WeightSource::matrix() const { return rowsBlock(0, logicalRows()); }

VectorF WeightSource::vector() const {
    // 1-D parameter, or a slice [rowOffset, rowOffset + rows) of one (fused bias)
    const int64_t n = rows >= 0 ? rows : ref.numel();
    VectorF v(n);
    ref.toFloat(v.data(), size_t(rowOffset), size_t(n));
    return v;
}

std::vector<const void*> Block::overrideKeys() const {
    std::vector<const void*> k{attnNorm.weightOverride.get(), attnNorm.biasOverride.get(), mlpNorm.weightOverride.get(),
                               mlpNorm.biasOverride.get()};
    for (const Linear& l : linears) {
        k.push_back(l.override.get());
        k.push_back(l.biasOverride.get());
    }
    return k;
}

Linear* Block::find(LinearKind k) {
    for (auto& l : linears)
        if (l.kind == k) return &l;
    return nullptr;
}
const Linear* Block::find(LinearKind k) const {
    for (const auto& l : linears)
        if (l.kind == k) return &l;
    return nullptr;
}

int64_t Model::numLinearParams() const {
    int64_t n = 0;
    for (const auto& b : blocks)
        for (const auto& l : b.linears) n += l.params();
    return n;
}

void Model::forEachTensor(const std::function<void(const WeightSource&)>& fn) const {
    // each stored tensor once (a tied lm_head and the slices of a fused tensor
    // share their storage), in a fixed order
    std::set<const uint8_t*> seen;
    auto visit = [&](const WeightSource& w) {
        if (w.valid() && seen.insert(w.ref.data).second) fn(w);
    };
    auto norm = [&](const Norm& n) {
        visit(n.weight);
        if (n.bias) visit(*n.bias);
    };
    visit(embedTokens);
    if (embedPositions) visit(*embedPositions);
    if (projectIn) visit(*projectIn);
    if (projectOut) visit(*projectOut);
    norm(finalNorm);
    visit(lmHead);
    for (const auto& b : blocks) {
        norm(b.attnNorm);
        norm(b.mlpNorm);
        for (const auto& l : b.linears) {
            visit(l.weight);
            if (l.bias) visit(*l.bias);
        }
    }
}

int64_t Model::numParams() const {
    int64_t n = 0;
    forEachTensor([&](const WeightSource& w) { n += w.ref.numel(); });
    return n;
}

size_t Model::storedBytes() const {
    size_t n = 0;
    forEachTensor([&](const WeightSource& w) { n += w.ref.nbytes; });
    return n;
}

std::vector<const Linear*> Model::linears() const {
    std::vector<const Linear*> v;
    for (const auto& b : blocks)
        for (const auto& l : b.linears) v.push_back(&l);
    return v;
}

std::string Model::contentHash() const {
    QCryptographicHash h(QCryptographicHash::Sha256);
    forEachTensor([&](const WeightSource& w) {
        h.addData(QByteArray::fromStdString(w.ref.name));
        h.addData(QByteArray::fromStdString(w.ref.dtypeName));
        for (int64_t d : w.ref.shape) h.addData(QByteArray::number(qint64(d)) + ',');
        h.addData(QByteArrayView(reinterpret_cast<const char*>(w.ref.data), qsizetype(w.ref.nbytes)));
    });
    return h.result().toHex().toStdString();
}

}  // namespace qs
