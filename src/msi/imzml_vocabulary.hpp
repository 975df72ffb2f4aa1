#pragma once
// The controlled-vocabulary terms of imzML (PSI-MS "MS", imzML's "IMS", the Unit Ontology
// "UO") that the writer writes and the parser looks for: one table, so that the two cannot
// drift apart. Names are the ontologies' own (imagingMS.obo 1.1.0 spells "pixel size (x)"
// and "pixel size y").

#include "spatialembed/msi/imzml_reader.hpp"  // BinaryDataType

namespace spatialembed::msi_detail::cv {

struct Term {
  const char* ref;        ///< cvRef: "MS", "IMS" or "UO"
  const char* accession;  ///< e.g. "IMS:1000030"
  const char* name;       ///< the term's name in its ontology
};

// File content and spectrum kind.
inline constexpr Term kMs1Spectrum{"MS", "MS:1000579", "MS1 spectrum"};
inline constexpr Term kMsLevel{"MS", "MS:1000511", "ms level"};
inline constexpr Term kCentroidSpectrum{"MS", "MS:1000127", "centroid spectrum"};
inline constexpr Term kProfileSpectrum{"MS", "MS:1000128", "profile spectrum"};
inline constexpr Term kContinuous{"IMS", "IMS:1000030", "continuous"};
inline constexpr Term kProcessed{"IMS", "IMS:1000031", "processed"};
inline constexpr Term kUuid{"IMS", "IMS:1000080", "universally unique identifier"};
inline constexpr Term kSha1{"IMS", "IMS:1000091", "ibd SHA-1"};
inline constexpr Term kMd5{"IMS", "IMS:1000090", "ibd MD5"};
// Scan settings.
inline constexpr Term kMaxCountX{"IMS", "IMS:1000042", "max count of pixels x"};
inline constexpr Term kMaxCountY{"IMS", "IMS:1000043", "max count of pixels y"};
inline constexpr Term kPixelSizeX{"IMS", "IMS:1000046", "pixel size (x)"};
inline constexpr Term kPixelSizeY{"IMS", "IMS:1000047", "pixel size y"};
// Spectrum.
inline constexpr Term kTic{"MS", "MS:1000285", "total ion current"};
inline constexpr Term kLowestMz{"MS", "MS:1000528", "lowest observed m/z"};
inline constexpr Term kHighestMz{"MS", "MS:1000527", "highest observed m/z"};
inline constexpr Term kNoCombination{"MS", "MS:1000795", "no combination"};
inline constexpr Term kPositionX{"IMS", "IMS:1000050", "position x"};
inline constexpr Term kPositionY{"IMS", "IMS:1000051", "position y"};
inline constexpr Term kPositionZ{"IMS", "IMS:1000052", "position z"};
// Binary arrays.
inline constexpr Term kMzArray{"MS", "MS:1000514", "m/z array"};
inline constexpr Term kIntensityArray{"MS", "MS:1000515", "intensity array"};
inline constexpr Term kNoCompression{"MS", "MS:1000576", "no compression"};
inline constexpr Term kZlib{"MS", "MS:1000574", "zlib compression"};
inline constexpr Term kExternalData{"IMS", "IMS:1000101", "external data"};
inline constexpr Term kExternalOffset{"IMS", "IMS:1000102", "external offset"};
inline constexpr Term kExternalLength{"IMS", "IMS:1000103", "external array length"};
inline constexpr Term kExternalEncodedLength{"IMS", "IMS:1000104", "external encoded length"};
// Software and processing.
inline constexpr Term kCustomSoftware{"MS", "MS:1000799", "custom unreleased software tool"};
inline constexpr Term kConversionToMzml{"MS", "MS:1000544", "Conversion to mzML"};
// Units.
inline constexpr Term kUnitMz{"MS", "MS:1000040", "m/z"};
inline constexpr Term kUnitDetectorCounts{"MS", "MS:1000131", "number of detector counts"};
inline constexpr Term kUnitMicrometer{"UO", "UO:0000017", "micrometer"};

/// Binary data types: the first term of each type is the one the writer uses; the IMS terms
/// are older synonyms that the parser accepts.
struct DataTypeTerm {
  Term term;
  BinaryDataType type;
};
inline constexpr DataTypeTerm kDataTypes[] = {
    {{"MS", "MS:1000521", "32-bit float"}, BinaryDataType::float32},
    {{"MS", "MS:1000523", "64-bit float"}, BinaryDataType::float64},
    {{"MS", "MS:1000519", "32-bit integer"}, BinaryDataType::int32},
    {{"MS", "MS:1000522", "64-bit integer"}, BinaryDataType::int64},
    {{"IMS", "IMS:1000141", "32-bit integer"}, BinaryDataType::int32},
    {{"IMS", "IMS:1000142", "64-bit integer"}, BinaryDataType::int64},
};

/// The term the writer uses for `type`.
inline const Term& data_type_term(BinaryDataType type) {
  for (const auto& t : kDataTypes)
    if (t.type == type) return t.term;
  return kDataTypes[0].term;  // unreachable: every type has a term
}

/// Data-type and compression accessions that exist but that the reader does not decode.
inline constexpr const char* kUnsupportedTypes[] = {"MS:1000520", "MS:1000518", "MS:1001479", "IMS:1000140",
                                                    "IMS:1000143"};
inline constexpr const char* kUnsupportedCompressions[] = {"MS:1002312", "MS:1002313", "MS:1002314", "MS:1002746",
                                                           "MS:1002747", "MS:1002748", "MS:1003089", "MS:1003090"};

}  // namespace spatialembed::msi_detail::cv
