#pragma once
#include <string>

#include <QString>

namespace qs {

/// Evaluation / calibration text:
///  * `.jsonl`: one {"text": ...} object per line, rows joined with "\n\n"
///    (WikiText-2 / C4 style, as the GPTQ evaluation protocol does);
///  * anything else: a UTF-8 text file, CRLF normalised to LF.
/// Throws qs::Error naming the file and line/byte for bad JSON or invalid UTF-8.
std::string loadText(const QString& path);

/// Byte offset of the first invalid UTF-8 sequence, or -1 when valid.
long long firstInvalidUtf8(const std::string& s);

}  // namespace qs
