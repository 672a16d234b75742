// Command bigdrain is TestBigTransactionMemory's canal-go client, built
// without the race detector so that decoding a gigabyte of entries takes
// seconds: it connects to a Canal server, subscribes to destination
// "example", drains with GetWithOutAck(1000) + Ack until it has seen one
// transaction of ROWS rows whose ids count up from 1 and whose second
// column is WIDTH bytes of letter 65 + id % 26, and prints
// "ok ROWS BYTES". Any deviation is printed and exits 1.
//
//	bigdrain PORT ROWS WIDTH
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"
)

func main() {
	if err := run(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 4 {
		return fmt.Errorf("usage: bigdrain PORT ROWS WIDTH")
	}
	port, _ := strconv.Atoi(os.Args[1])
	rows, _ := strconv.Atoi(os.Args[2])
	width, _ := strconv.Atoi(os.Args[3])
	var c *canalclient.SimpleCanalConnector
	for deadline := time.Now().Add(30 * time.Second); ; {
		c = canalclient.NewSimpleCanalConnector("127.0.0.1", port, "", "", "example", 60000, 60*60*1000)
		err := c.Connect()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.DisConnection()
	if err := c.Subscribe(""); err != nil {
		return err
	}
	next, inTx, ended := 1, false, false
	var total int64
	rc := &pbe.RowChange{}
	for !ended {
		wait, unit := int64(1000), int32(2)
		msg, err := c.GetWithOutAck(1000, &wait, &unit)
		if err != nil {
			return err
		}
		for i := range msg.Entries {
			e := &msg.Entries[i]
			switch e.GetEntryType() {
			case pbe.EntryType_TRANSACTIONBEGIN:
				inTx = next == 1
			case pbe.EntryType_TRANSACTIONEND:
				ended = inTx && next == rows+1
			case pbe.EntryType_ROWDATA:
				if err := proto.Unmarshal(e.GetStoreValue(), rc); err != nil {
					return err
				}
				if rc.GetIsDdl() {
					continue
				}
				for _, rd := range rc.GetRowDatas() {
					cols := rd.GetAfterColumns()
					v := cols[1].GetValue()
					if !inTx || cols[0].GetValue() != strconv.Itoa(next) || len(v) != width || v[0] != byte(65+next%26) || v[width-1] != v[0] {
						return fmt.Errorf("row %d: in transaction %v, id %s, %d bytes", next, inTx, cols[0].GetValue(), len(v))
					}
					total += int64(len(v))
					next++
				}
			}
		}
		if msg.Id > 0 {
			if err := c.Ack(msg.Id); err != nil {
				return err
			}
		}
	}
	fmt.Println("ok", next-1, total)
	return nil
}
