#pragma once
// User-facing errors. Anything a user can cause (bad file, bad argument, bad
// recipe) throws qs::Error with a message that names the file / tensor / field,
// what was found and what was expected. The CLI maps it to exit code 2, the GUI
// to a dialog. Programming errors assert instead.
#include <stdexcept>
#include <string>

#include <QString>

namespace qs {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
    explicit Error(const QString& msg) : std::runtime_error(msg.toStdString()) {}
};

/// Thrown when a Job's cancel token is triggered; not an error for the user.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace qs
