#include "model/mapped_file.h"

#include "util/error.h"

namespace qs {

std::shared_ptr<MappedFile> MappedFile::open(const QString& path) {
    std::shared_ptr<MappedFile> m(new MappedFile());
    m->path_ = path;
    m->file_.setFileName(path);
    if (!m->file_.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot open file: %2").arg(path, m->file_.errorString()));
    m->size_ = size_t(m->file_.size());
    if (m->size_ > 0) {
        uchar* p = m->file_.map(0, qint64(m->size_));
        if (!p)
            throw Error(QStringLiteral("%1: cannot memory-map file: %2").arg(path, m->file_.errorString()));
        m->data_ = p;
    }
    return m;
}

MappedFile::~MappedFile() {
    if (data_) file_.unmap(const_cast<uchar*>(data_));
}

}  // namespace qs
