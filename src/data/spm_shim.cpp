// spm_shim.cpp: extern "C" wrappers around SentencePiece (spm_shim.h), the only C++ in baton.
// SentencePiece reports most failures as util::Status but can also throw (std::bad_alloc, and
// whatever protobuf or the standard library throws), and a C++ exception unwinding into C frames
// is undefined behaviour; so every entry point catches everything and returns a code + message.
#include "spm_shim.h"

#include "baton/text.h" /* BATON_LINE_MAX */

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

struct baton_spm {
    sentencepiece::SentencePieceProcessor proc;
};

namespace {

int fail(int code, char *err, size_t err_n, const std::string &msg)
{
    if (err && err_n)
        std::snprintf(err, err_n, "%s", msg.c_str());
    return code;
}

// NotFound / PermissionDenied come from opening files; InvalidArgument from option checks
// (for example "Vocabulary size too high"); the rest means a file SentencePiece cannot use.
int from_status(const sentencepiece::util::Status &st, char *err, size_t err_n)
{
    using sentencepiece::util::StatusCode;
    int code = BATON_SPM_EFORMAT;
    if (st.code() == StatusCode::kNotFound || st.code() == StatusCode::kPermissionDenied)
        code = BATON_SPM_EIO;
    else if (st.code() == StatusCode::kInvalidArgument)
        code = BATON_SPM_EINVALID;
    return fail(code, err, err_n, st.error_message());
}

// At most n bytes of s, cut at a character boundary (for messages).
std::string utf8_prefix(const std::string &s, size_t n)
{
    if (s.size() <= n)
        return s;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
        n--;
    return s.substr(0, n) + "...";
}

// Copies s into the caller's growable malloc'd buffer (C frees it, so C's realloc, not new).
int put(const std::string &s, char **out, size_t *cap, char *err, size_t err_n)
{
    size_t need = s.size() + 1;
    if (*cap < need) {
        size_t grown = *cap * 2 > need ? *cap * 2 : need;
        char *p = static_cast<char *>(std::realloc(*out, grown));
        if (!p)
            return fail(BATON_SPM_EOOM, err, err_n, "out of memory for a " + std::to_string(need) + "-byte line");
        *out = p;
        *cap = grown;
    }
    std::memcpy(*out, s.c_str(), need);
    return BATON_SPM_OK;
}

// Feeds the training files line by line, so a comma in a path (SentencePiece's --input list
// separator) is harmless and lines are stripped exactly as the corpus reader strips them.
class FileLines : public sentencepiece::SentenceIterator {
  public:
    FileLines(const char *const *paths, int n) : paths_(paths, paths + n) { Next(); }
    ~FileLines() override { close(); }
    bool done() const override { return done_; }
    const std::string &value() const override { return line_; }
    sentencepiece::util::Status status() const override { return status_; }

    void Next() override
    {
        while (!done_) {
            if (!f_ && !open_next())
                return;
            if (read_line())
                return;
        }
    }

  private:
    std::vector<const char *> paths_;
    size_t next_ = 0;
    std::FILE *f_ = nullptr;
    std::string line_;
    long line_no_ = 0; // lines read of the current file
    bool done_ = false;
    sentencepiece::util::Status status_;

    void close()
    {
        if (f_)
            std::fclose(f_);
        f_ = nullptr;
    }

    bool open_next()
    {
        if (next_ == paths_.size()) {
            done_ = true;
            return false;
        }
        const char *path = paths_[next_++];
        line_no_ = 0;
        f_ = std::fopen(path, "rb");
        if (!f_) {
            status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                                  std::string(path) + ": cannot open: " + std::strerror(errno));
            done_ = true;
        }
        return f_ != nullptr;
    }

    // Reads one line into line_ (trailing whitespace stripped); false at the end of the file, or
    // with status_ set at a line longer than the corpus reader takes (BATON_LINE_MAX).
    bool read_line()
    {
        line_.clear();
        int c;
        while ((c = std::getc(f_)) != EOF && c != '\n' && line_.size() <= BATON_LINE_MAX)
            line_.push_back(static_cast<char>(c));
        line_no_++;
        if (line_.size() > BATON_LINE_MAX) {
            status_ = sentencepiece::util::Status(
                sentencepiece::util::StatusCode::kOutOfRange,
                std::string(paths_[next_ - 1]) + ":" + std::to_string(line_no_) + ": a line of more than " +
                    std::to_string(BATON_LINE_MAX) + " bytes; expected one sentence per line");
            done_ = true;
            close();
            return false;
        }
        if (c == EOF && line_.empty()) {
            close();
            return false;
        }
        while (!line_.empty() && std::strchr(" \t\r\v\f", line_.back()))
            line_.pop_back();
        return true;
    }
};

int train(const char *const *paths, int n_paths, const char *prefix, const baton_subword_train_options *o,
          char *err, size_t err_n)
{
    // baton has its own <s> and </s> (design.md), so SentencePiece's would only waste two pieces.
    std::unordered_map<std::string, std::string> kw = {
        {"model_prefix", prefix},
        {"vocab_size", std::to_string(o->vocab_size)},
        {"model_type", o->model_type ? o->model_type : "unigram"},
        {"character_coverage", std::to_string(o->character_coverage > 0 ? o->character_coverage : 1.0)},
        {"input_sentence_size", std::to_string(o->input_sentence_size)},
        {"shuffle_input_sentence", "false"},
        {"normalization_rule_name", o->normalization ? o->normalization : "nmt_nfkc"},
        {"bos_id", "-1"},
        {"eos_id", "-1"},
        {"minloglevel", o->verbose ? "0" : "2"},
    };
    if (o->num_threads > 0)
        kw["num_threads"] = std::to_string(o->num_threads);
    FileLines lines(paths, n_paths);
    sentencepiece::util::Status st = sentencepiece::SentencePieceTrainer::Train(kw, &lines);
    if (!lines.status().ok())
        return from_status(lines.status(), err, err_n);
    return st.ok() ? BATON_SPM_OK : from_status(st, err, err_n);
}

// Encodes text as pieces. Only ' ' is whitespace to SentencePiece (escaped to U+2581), so other
// ASCII whitespace becomes ' ' first: no piece can then contain a byte that splits tokens.
int encode(baton_spm *spm, const char *text, char **out, size_t *cap, char *err, size_t err_n)
{
    std::string in(text);
    for (char &c : in)
        if (c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            c = ' ';
    std::vector<std::string> pieces;
    sentencepiece::util::Status st = spm->proc.Encode(in, &pieces);
    if (!st.ok())
        return from_status(st, err, err_n);
    std::string joined;
    for (const std::string &p : pieces) {
        // A model that does not escape whitespace (a damaged or foreign one) gives pieces holding
        // spaces, which the vocabulary would split: refused rather than tokens that do not round-trip.
        if (p.empty() || p.find_first_of(" \t\n\r\v\f") != std::string::npos)
            return fail(BATON_SPM_EFORMAT, err, err_n,
                        "the model gives the piece '" + utf8_prefix(p, 40) +
                            "', which is empty or holds whitespace; expected a model that escapes whitespace as "
                            "U+2581 (as SentencePiece's trainer does)");
        if (!joined.empty())
            joined.push_back(' ');
        joined += p;
    }
    return put(joined, out, cap, err, err_n);
}

int decode(baton_spm *spm, const char *tokens, char **out, size_t *cap, char *err, size_t err_n)
{
    std::vector<std::string> pieces;
    for (const char *p = tokens; *p;) {
        size_t n = std::strcspn(p, " \t\n\r\v\f");
        if (n)
            pieces.emplace_back(p, n);
        p += n;
        p += std::strspn(p, " \t\n\r\v\f");
    }
    std::string text;
    sentencepiece::util::Status st = spm->proc.Decode(pieces, &text);
    if (!st.ok())
        return from_status(st, err, err_n);
    return put(text, out, cap, err, err_n);
}

} // namespace

// Every entry point below runs its body inside this guard.
#define BATON_SPM_GUARD(body)                                                     \
    try {                                                                         \
        body;                                                                     \
    } catch (const std::bad_alloc &) {                                            \
        return fail(BATON_SPM_EOOM, err, err_n, "out of memory in SentencePiece"); \
    } catch (const std::exception &e) {                                           \
        return fail(BATON_SPM_EINTERNAL, err, err_n, std::string("SentencePiece threw: ") + e.what()); \
    } catch (...) {                                                               \
        return fail(BATON_SPM_EINTERNAL, err, err_n, "SentencePiece threw an unknown exception"); \
    }

extern "C" int baton_spm_train(const char *const *paths, int n_paths, const char *prefix,
                               const baton_subword_train_options *opt, char *err, size_t err_n)
{
    BATON_SPM_GUARD(return train(paths, n_paths, prefix, opt, err, err_n))
}

extern "C" int baton_spm_load(baton_spm **spm, const char *path, char *err, size_t err_n)
{
    *spm = nullptr;
    BATON_SPM_GUARD({
        std::unique_ptr<baton_spm> s(new baton_spm);
        sentencepiece::util::Status st = s->proc.Load(path);
        if (!st.ok())
            return from_status(st, err, err_n);
        *spm = s.release();
        return BATON_SPM_OK;
    })
}

extern "C" void baton_spm_free(baton_spm *spm)
{
    try {
        delete spm;
    } catch (...) {
        // A destructor that throws has nowhere to report to; dropping it keeps C safe.
    }
}

extern "C" int baton_spm_encode(baton_spm *spm, const char *text, char **out, size_t *cap, char *err,
                                size_t err_n)
{
    BATON_SPM_GUARD(return encode(spm, text, out, cap, err, err_n))
}

extern "C" int baton_spm_decode(baton_spm *spm, const char *pieces, char **out, size_t *cap, char *err,
                                size_t err_n)
{
    BATON_SPM_GUARD(return decode(spm, pieces, out, cap, err, err_n))
}
