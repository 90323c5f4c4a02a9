/**
 * Participants: register, registerGrid, authorize, transferOperator.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { marketFixture, paperFixture, toCommit } from "../shared/fixtures";
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

  describe("transferOperator", function () {
    it("moves the role: the new operator may act, the old one may not", async function () {
      const { market, operator, signers } = await loadFixture(marketFixture);
      const next = signers[5];
      await expect(market.transferOperator(next.address)).to.emit(market, "OperatorChanged").withArgs(operator.address, next.address);
      expect(await market.operator()).to.equal(next.address);
      await expect(market.registerGrid(signers[1].address, "grid"))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(operator.address);
      await market.connect(next).registerGrid(signers[1].address, "grid");
      expect(await market.gridId()).to.equal(1);
    });

    it("reverts NotOperator for a non-operator and ZeroValue for the zero address; the operator stays", async function () {
      const { market, operator, signers } = await loadFixture(marketFixture);
      await expect(market.connect(signers[3]).transferOperator(signers[3].address))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signers[3].address);
      await expect(market.transferOperator(ethers.ZeroAddress)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      expect(await market.operator()).to.equal(operator.address);
    });
  });
});
