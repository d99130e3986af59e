#pragma once
// A read-only memory-mapped file (QFile::map). Checkpoint tensors point into it;
// the mapping lives as long as any shared_ptr to it.
#include <cstddef>
#include <cstdint>
#include <memory>

#include <QFile>
#include <QString>

namespace qs {

class MappedFile {
public:
    /// Maps the whole file; throws qs::Error naming the file when it can't.
    static std::shared_ptr<MappedFile> open(const QString& path);
    ~MappedFile();
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const QString& path() const { return path_; }

private:
    MappedFile() = default;
    QFile file_;
    QString path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace qs
