/**
 * Participants: register, registerGrid, authorize, transferOperator and acceptOperator.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { setStorageAt, getStorageAt } from "@nomicfoundation/hardhat-network-helpers";
import { marketFixture, paperFixture, toCommit, loadFixture } from "../shared/fixtures";
import { Side, seal, snapshot } from "./helpers";

describe("participants", function () {
  describe("register", function () {
    it("gives IDs in registration order from 1 and stores name and energy type", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[2]).register("alice", true))
        .to.emit(market, "ParticipantRegistered")
        .withArgs(1, signers[2].address, "alice", true, false);
      await expect(market.connect(signers[3]).register("bob", false))
        .to.emit(market, "ParticipantRegistered")
        .withArgs(2, signers[3].address, "bob", false, false);
      expect(await market.participantCount()).to.equal(2);
      expect(await market.idOf(signers[2].address)).to.equal(1);
      expect(await market.idOf(signers[3].address)).to.equal(2);
      const a = await market.participant(1);
      expect([a.id, a.account, a.name, a.green, a.authorized, a.grid]).to.deep.equal([1n, signers[2].address, "alice", true, false, false]);
      const b = await market.participant(2);
      expect([b.name, b.green, b.authorized]).to.deep.equal(["bob", false, false]);
    });

    it("returns the new ID (static call)", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      expect(await market.connect(signers[3]).register.staticCall("bob", false)).to.equal(2n);
    });

    it("reverts AlreadyRegistered for an account with a participant and changes nothing", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      const before = await snapshot(market);
      await expect(market.connect(signers[2]).register("alice2", false))
        .to.be.revertedWithCustomError(market, "AlreadyRegistered")
        .withArgs(signers[2].address);
      expect(await snapshot(market)).to.deep.equal(before);
      expect((await market.participant(1)).name).to.equal("alice");
    });

    it("reverts InvalidName for an empty name or one over 64 bytes; 64 bytes is fine", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[2]).register("", true)).to.be.revertedWithCustomError(market, "InvalidName").withArgs();
      await expect(market.connect(signers[2]).register("x".repeat(65), true)).to.be.revertedWithCustomError(market, "InvalidName").withArgs();
      // 22 three-byte characters = 66 bytes, though only 22 characters
      await expect(market.connect(signers[2]).register("电".repeat(22), true)).to.be.revertedWithCustomError(market, "InvalidName").withArgs();
      expect(await market.participantCount()).to.equal(0);
      expect(await market.idOf(signers[2].address)).to.equal(0);
      await market.connect(signers[2]).register("x".repeat(64), true);
      expect((await market.participant(1)).name).to.equal("x".repeat(64));
    });

    it("reverts TooManyParticipants past ID 2^24 - 1 (IDs are packed into the order books' links)", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      // 16.7 million registrations are out of reach of a test: the counter is set just below the limit.
      // It lives in the participant registry's fifth slot (after operator, pendingOperator and three
      // mappings), packed with the grid ID: check that before writing it.
      const COUNT_SLOT = 5;
      await market.connect(signers[2]).register("a", false);
      await market.registerGrid(signers[3].address, "grid");
      expect(BigInt(await getStorageAt(await market.getAddress(), COUNT_SLOT))).to.equal((2n << 32n) | 2n);
      const MAX_ID = 2n ** 24n - 1n;
      await setStorageAt(await market.getAddress(), COUNT_SLOT, (2n << 32n) | (MAX_ID - 1n));
      expect(await market.participantCount()).to.equal(MAX_ID - 1n);
      expect(await market.gridId()).to.equal(2n);
      await expect(market.connect(signers[4]).register("last", false))
        .to.emit(market, "ParticipantRegistered")
        .withArgs(MAX_ID, signers[4].address, "last", false, false);
      await expect(market.connect(signers[5]).register("one too many", false)).to.be.revertedWithCustomError(market, "TooManyParticipants").withArgs();
      expect(await market.participantCount()).to.equal(MAX_ID);
      expect(await market.idOf(signers[5].address)).to.equal(0n);
    });
  });

  describe("registerGrid", function () {
    it("registers the grid authorized and flagged, and records its ID", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      expect(await market.gridId()).to.equal(0);
      await expect(market.registerGrid(signers[1].address, "grid"))
        .to.emit(market, "ParticipantRegistered")
        .withArgs(2, signers[1].address, "grid", false, true);
      expect(await market.gridId()).to.equal(2);
      const g = await market.participant(2);
      expect([g.authorized, g.grid, g.green]).to.deep.equal([true, true, false]);
    });

    it("reverts NotOperator for anyone but the operator, with no grid registered", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[1]).registerGrid(signers[1].address, "grid"))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signers[1].address);
      expect(await market.gridId()).to.equal(0);
      expect(await market.participantCount()).to.equal(0);
    });

    it("reverts GridAlreadyRegistered for a second grid", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.registerGrid(signers[1].address, "grid");
      await expect(market.registerGrid(signers[2].address, "grid2")).to.be.revertedWithCustomError(market, "GridAlreadyRegistered").withArgs(1);
      expect(await market.participantCount()).to.equal(1);
      expect(await market.idOf(signers[2].address)).to.equal(0);
    });

    it("reverts ZeroValue for the zero address, AlreadyRegistered for a prosumer's account, InvalidName for an empty name", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      await expect(market.registerGrid(ethers.ZeroAddress, "grid")).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      await expect(market.registerGrid(signers[2].address, "grid"))
        .to.be.revertedWithCustomError(market, "AlreadyRegistered")
        .withArgs(signers[2].address);
      await expect(market.registerGrid(signers[1].address, "")).to.be.revertedWithCustomError(market, "InvalidName").withArgs();
      expect(await market.gridId()).to.equal(0);
      expect(await market.participantCount()).to.equal(1);
    });
  });

  describe("authorize", function () {
    it("allows and stops trading, emitting AuthorizationChanged", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      await expect(market.authorize(1, true)).to.emit(market, "AuthorizationChanged").withArgs(1, true);
      expect((await market.participant(1)).authorized).to.equal(true);
      await expect(market.authorize(1, false)).to.emit(market, "AuthorizationChanged").withArgs(1, false);
      expect((await market.participant(1)).authorized).to.equal(false);
    });

    it("reverts NotOperator for a non-operator and leaves the flag alone", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      await expect(market.connect(signers[2]).authorize(1, true))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signers[2].address);
      expect((await market.participant(1)).authorized).to.equal(false);
    });

    it("reverts UnknownParticipant for ID 0 and for an ID past the count", async function () {
      const { market, signers } = await loadFixture(marketFixture);
      await market.connect(signers[2]).register("alice", true);
      await expect(market.authorize(0, true)).to.be.revertedWithCustomError(market, "UnknownParticipant").withArgs(0);
      await expect(market.authorize(2, true)).to.be.revertedWithCustomError(market, "UnknownParticipant").withArgs(2);
      await expect(market.participant(2)).to.be.revertedWithCustomError(market, "UnknownParticipant").withArgs(2);
      expect(await market.participantCount()).to.equal(1);
    });

    it("reverts NotForGrid when (de)authorizing the grid, which stays authorized", async function () {
      const { market, gridId } = await loadFixture(paperFixture);
      await expect(market.authorize(gridId, false)).to.be.revertedWithCustomError(market, "NotForGrid").withArgs(gridId);
      expect((await market.participant(gridId)).authorized).to.equal(true);
    });

    it("a deauthorized prosumer cannot commit (NotAuthorized)", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await market.authorize(wind.id, false);
      await toCommit(market, 2);
      const { commitment } = await seal(market, wind.signer, 2, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(2, commitment)).to.be.revertedWithCustomError(market, "NotAuthorized").withArgs(wind.id);
      expect((await market.bidOf(2, wind.id)).committed).to.equal(false);
    });
  });

  describe("transferOperator and acceptOperator", function () {
    it("moves the role in two steps: proposed, then accepted by the new account; until then the old operator acts", async function () {
      const { market, operator, signers } = await loadFixture(marketFixture);
      const next = signers[5];
      await expect(market.transferOperator(next.address))
        .to.emit(market, "OperatorProposed")
        .withArgs(operator.address, next.address)
        .and.not.to.emit(market, "OperatorChanged");
      expect([await market.operator(), await market.pendingOperator()]).to.deep.equal([operator.address, next.address]);
      await expect(market.connect(next).registerGrid(signers[1].address, "grid"))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(next.address);
      await expect(market.connect(next).acceptOperator()).to.emit(market, "OperatorChanged").withArgs(operator.address, next.address);
      expect([await market.operator(), await market.pendingOperator()]).to.deep.equal([next.address, ethers.ZeroAddress]);
      await expect(market.registerGrid(signers[1].address, "grid"))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(operator.address);
      await market.connect(next).registerGrid(signers[1].address, "grid");
      expect(await market.gridId()).to.equal(1);
    });

    it("reverts NotProposedOperator for anyone but the proposed account (the operator too, and after a new proposal the first one)", async function () {
      const { market, operator, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[5]).acceptOperator()).to.be.revertedWithCustomError(market, "NotProposedOperator").withArgs(signers[5].address);
      await market.transferOperator(signers[5].address);
      await expect(market.connect(signers[6]).acceptOperator()).to.be.revertedWithCustomError(market, "NotProposedOperator").withArgs(signers[6].address);
      await expect(market.acceptOperator()).to.be.revertedWithCustomError(market, "NotProposedOperator").withArgs(operator.address);
      // a new proposal replaces the first
      await market.transferOperator(signers[6].address);
      await expect(market.connect(signers[5]).acceptOperator()).to.be.revertedWithCustomError(market, "NotProposedOperator").withArgs(signers[5].address);
      expect(await market.operator()).to.equal(operator.address);
      await market.connect(signers[6]).acceptOperator();
      expect(await market.operator()).to.equal(signers[6].address);
    });

    it("reverts NotOperator for a non-operator and ZeroValue for the zero address; the operator and the proposal stay", async function () {
      const { market, operator, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[3]).transferOperator(signers[3].address))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signers[3].address);
      await expect(market.transferOperator(ethers.ZeroAddress)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      expect([await market.operator(), await market.pendingOperator()]).to.deep.equal([operator.address, ethers.ZeroAddress]);
    });
  });
});
