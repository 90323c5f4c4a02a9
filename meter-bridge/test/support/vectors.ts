/** The real frames of shared/dlt645-vectors.md, byte for byte. */
export const VECTORS = {
  readForward123456789012: "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16",
  replyForward123456_78: "68 12 90 78 56 34 12 68 91 08 33 33 34 33 AB 89 67 45 CC 16",
  replyForward1234_56: "68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16",
  abnormalNoData: "68 12 90 78 56 34 12 68 D1 01 35 8D 16",
  readAddress: "FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16",
  readAddressReply7Fe: "FE FE FE FE FE FE FE 68 12 90 78 56 34 12 68 93 06 45 C3 AB 89 67 45 07 16",
  wildcardReadForward: "FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16",
  readFollowUp: "68 12 90 78 56 34 12 68 12 05 34 33 63 36 34 D1 16",
  readAddressReply000000000001: "68 01 00 00 00 00 00 68 93 06 34 33 33 33 33 33 9D 16",
  readForward000000000001: "68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16",
  replyForward112280_26: "68 01 00 00 00 00 00 68 91 08 33 33 34 33 59 B3 55 44 DC 16",
  readCombined652022122003: "68 03 20 12 22 20 65 68 11 04 33 33 33 33 8D 16",
  replyCombinedZero: "68 03 20 12 22 20 65 68 91 08 33 33 33 33 33 33 33 33 DD 16",
} as const;
