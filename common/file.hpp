// A small RAII wrapper over a POSIX file descriptor with whole-range pread/pwrite.
// Errors throw FileError whose message names the path and the system's reason.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

struct stat;

namespace cascade {

// A file's last modification time (st_mtim) in nanoseconds since the epoch.
std::int64_t modified_ns(const struct stat& st);

struct FileError : std::runtime_error {
  FileError(const std::string& what, int err) : std::runtime_error(what), error(err) {}
  int error;  // errno; ENOSPC for a full disk
};

class File {
 public:
  enum class Mode { read, read_write_create };
  File() = default;
  File(const std::string& path, Mode mode);
  ~File();
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&& o) noexcept;

  std::uint64_t size() const;
  std::int64_t modified_ns() const;  // see cascade::modified_ns
  // Reads exactly out.size() bytes at offset; throws on error or end of file.
  void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const;
  void write_at(std::uint64_t offset, std::span<const std::uint8_t> data);
  void sync_data();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  [[noreturn]] void fail(const std::string& op) const;
  int fd_ = -1;
  std::string path_;
};

// Reads a whole (small) file, e.g. a .cascade file; refuses files over max_bytes and anything but
// a regular file.
std::string read_small_file(const std::string& path, std::uint64_t max_bytes);
// The same, but a pipe, FIFO or device (`--config <(...)`, /dev/stdin) is read to its end, and
// refused once more than max_bytes came (so /dev/zero ends); a FIFO with no writer reads as empty.
std::string read_small_stream(const std::string& path, std::uint64_t max_bytes);
// Writes bytes to path through a temporary file and a rename, so readers never see half a file.
// With durable, the temporary file is fdatasync'd before the rename (it survives a crash).
// Through symbolic links, the file they end at is replaced. The program's own standard output or
// error (/dev/stdout, or the file it is redirected to) is written to, and a device or FIFO
// (/dev/null, a named pipe) written into, without a sync (a FIFO nobody reads is an error, not a
// wait); a directory or a socket is an error.
void write_file_replace(const std::string& path, std::span<const std::uint8_t> data,
                        bool durable = true);
// Whether two paths name one file: the same inode where both exist, else the same absolute path
// (symbolic links followed, also to where a file is still to be created; `..` resolved).
bool same_file(const std::string& a, const std::string& b);
// Whether `path` (symbolic links followed, as a write through it would) is an entry of `dir`.
bool lies_in(const std::string& path, const std::string& dir);
// The first of `outputs` (option name, path; empty paths skipped) that is the same file as one of
// `inputs` (what it is, path) or as another output: "--stats-json d is the data file d" etc. An
// output written over a file the program reads or shares would destroy it.
std::optional<std::string> output_clash(
    const std::vector<std::pair<std::string, std::string>>& outputs,
    const std::vector<std::pair<std::string, std::string>>& inputs);
// Writes `port` and a newline to `path` (replacing it whole), for scripts and tests that start a
// program on port 0 and need to know where it listens.
void write_port_file(const std::string& path, std::uint16_t port);

}  // namespace cascade
